"""What attention does inside a model, measured: its largest logit, its entropy, the size of its output.

The three numbers Wortsman et al. (2023) watch for training instabilities:

- ``max_logit``    the largest |attention logit| (score before the normaliser) over the pairs a query
                   may see. Its unbounded growth is "attention logit growth", which collapses the
                   softmax onto one key;
- ``entropy``      the mean entropy (nats) of each query's weights, read as a distribution over the keys
                   it may see (weights that need not sum to 1, e.g. ReLU's, are divided by their sum first;
                   a row whose weights are all 0 is left out). ``log L`` is uniform attention, 0 one key;
- ``output_norm``  the mean L2 norm of the attention layer's output per real token (before the residual):
                   it grows with the sequence when the weights are not normalised;
- ``weight_sum``   the mean sum of each query's weights (1 for the softmax).

``layer_stats`` measures one ``MultiHeadAttention`` on its input; ``attention_stats`` measures every
attention layer of a model on a batch, by recording what each layer receives during one forward pass.
"""
from __future__ import annotations

import torch

from ..attention import MultiHeadAttention, causal_mask, combine, key_padding_mask

STATS = ("max_logit", "entropy", "output_norm", "weight_sum")


@torch.no_grad()
def layer_stats(attn: MultiHeadAttention, x, pad_mask=None) -> dict:
    """The ``STATS`` of one attention layer on its input ``x`` [B, T, C] (``pad_mask`` [B, T], True = real)."""
    B, T = x.shape[:2]
    real = torch.ones(B, T, dtype=torch.bool, device=x.device) if pad_mask is None else pad_mask
    was_training = attn.training
    attn.eval()                                                             # no dropout
    try:
        y, w = attn(x, pad_mask=pad_mask, return_weights=True)              # [B, T, C], [B, H, T, T]
        logits = attn.scores(x)                                             # [B, H, T, T]
    finally:
        attn.train(was_training)
    allowed = combine(key_padding_mask(real), causal_mask(T, T, x.device) if attn.causal else None)
    allowed = (allowed & real[:, None, :, None]).expand_as(logits)          # real queries, keys they may see
    total = w.sum(-1, keepdim=True)                                         # [B, H, T, 1]
    rows = real[:, None, :].expand(B, w.shape[1], T) & (total[..., 0] > 0)
    p = w / total.clamp_min(1e-30)
    ent = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)                      # [B, H, T]
    return {"max_logit": float(logits.abs()[allowed].max()) if allowed.any() else 0.0,
            "entropy": float(ent[rows].mean()) if rows.any() else float("nan"),
            "output_norm": float(y.norm(dim=-1)[real].mean()),
            "weight_sum": float(total[..., 0][real[:, None, :].expand(B, w.shape[1], T)].mean())}


@torch.no_grad()
def attention_stats(model, idx, pad_mask=None) -> dict:
    """``STATS`` of every attention layer of ``model`` on ``idx`` [B, T]: ``{"layers": [dict, ...]}`` plus
    the largest ``max_logit`` and ``output_norm`` and the mean ``entropy`` and ``weight_sum`` over layers."""
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    seen = {}

    def record(module, args, kwargs):
        seen[module] = (args[0], kwargs.get("pad_mask", args[1] if len(args) > 1 else None))

    was_training = model.training
    model.eval()
    hooks = [m.register_forward_pre_hook(record, with_kwargs=True) for m in layers]
    try:
        model(idx, pad_mask=pad_mask)
        for h in hooks:
            h.remove()
        per = [layer_stats(m, *seen[m]) for m in layers if m in seen]
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if not per:
        raise ValueError("the model has no MultiHeadAttention layer that ran in its forward pass")
    mean = lambda k: sum(s[k] for s in per) / len(per)
    return {"layers": per, "max_logit": max(s["max_logit"] for s in per), "entropy": mean("entropy"),
            "output_norm": max(s["output_norm"] for s in per), "weight_sum": mean("weight_sum")}
