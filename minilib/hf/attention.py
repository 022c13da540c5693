"""A Hugging Face model's attention weights, and its attention replaced on purpose.

``attentions`` runs a model once with ``output_attentions=True`` and returns each layer's weights
``[H, T, T]`` for one sentence (``transformers`` 5 returns them only from its eager attention code:
``models.eager``).

``edited_attention(model, layers, how)`` is a context manager inside which the attention weights of
the chosen layers are replaced before they mix the values, as in the two papers this course follows
(Jain & Wallace, 2019; Wiegreffe & Pinter, 2019):

- ``"uniform"``: every real key gets the same weight (what the layer does if it attends to nothing
  in particular);
- ``"permuted"``: each query's weights are shuffled among the real keys (same values, wrong keys).

It works through ``transformers``' attention interface: a registered attention function (with eager
attention's mask) computes the model's own (eager) weights, replaces them for the chosen layers (by
``module.layer_idx``) and applies them to the values. Padding keys keep weight 0 in both edits.
"""
from __future__ import annotations

import contextlib
import contextvars

import torch

from ..choices import check_choice

EDITS = ("uniform", "permuted")
NAME = "minilib_edited"
_EDIT: contextvars.ContextVar = contextvars.ContextVar("minilib_attention_edit", default=None)


def _allowed(weights, mask):
    """Bool [B, H|1, T, T]: the keys each query may see (from the additive mask transformers passes)."""
    if mask is None:
        return torch.ones_like(weights, dtype=torch.bool)
    if mask.dtype == torch.bool:
        return mask.expand_as(weights)
    return (mask == 0).expand_as(weights)


def permute_rows(weights, allowed, generator=None):
    """Each row's weights moved to a random permutation of its allowed keys (disallowed keys keep theirs)."""
    T = weights.shape[-1]
    pos = torch.arange(T, dtype=torch.float32).expand(weights.shape)
    r = torch.rand(weights.shape, generator=generator)
    in_order = torch.where(allowed, pos, T + pos).argsort(-1)          # allowed keys first, in order
    shuffled = torch.where(allowed, r, 2.0 + pos).argsort(-1)          # allowed keys first, shuffled
    perm = torch.arange(T).expand(weights.shape).clone().scatter_(-1, in_order, shuffled)
    return weights.gather(-1, perm.to(weights.device))


def uniform_rows(weights, allowed):
    """Equal weight on every allowed key of each row."""
    w = allowed.to(weights.dtype)
    return w / w.sum(-1, keepdim=True).clamp_min(1)


def _edited_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    from transformers.models.roberta.modeling_roberta import eager_attention_forward
    out, weights = eager_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                           dropout=dropout, **kwargs)
    edit = _EDIT.get()
    if edit is None or getattr(module, "layer_idx", None) not in edit["layers"]:
        return out, weights
    allowed = _allowed(weights, attention_mask)
    weights = (uniform_rows(weights, allowed) if edit["how"] == "uniform"
               else permute_rows(weights, allowed, edit["generator"]))
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights    # [B, T, H, d] as eager's


def _register():
    """Our attention function, and eager attention's mask (an additive float mask) to go with it."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import eager_mask
    AttentionInterface.register(NAME, _edited_attention)
    AttentionMaskInterface.register(NAME, eager_mask)


@contextlib.contextmanager
def edited_attention(model, layers, how: str = "uniform", seed: int = 0):
    """Inside the block, ``model``'s attention in ``layers`` (indices, or one index) is replaced by ``how``."""
    check_choice("attention edit", how, EDITS)
    layers = {layers} if isinstance(layers, int) else set(layers)
    n = model.config.num_hidden_layers
    if not layers <= set(range(n)):
        raise ValueError(f"layers must be in 0..{n - 1}, got {sorted(layers)}")
    _register()
    before = model.config._attn_implementation
    model.set_attn_implementation(NAME)
    token = _EDIT.set({"layers": layers, "how": how, "generator": torch.Generator().manual_seed(seed)})
    try:
        yield model
    finally:
        _EDIT.reset(token)
        model.set_attn_implementation(before)


@torch.no_grad()
def attentions(model, tokenizer, words) -> tuple[list, list, list]:
    """``(weights, tokens, word_ids)`` of one sentence (a list of words): ``weights`` is a list over layers of
    ``[H, T, T]`` tensors (the model must run eager attention: ``models.eager(model)``)."""
    from .tokenizer import encode_words
    ids, word_ids = encode_words(tokenizer, [words])
    longest = model.config.max_position_embeddings - model.config.pad_token_id - 1
    if len(ids[0]) > longest:
        raise ValueError(f"the sentence is {len(ids[0])} tokens long; this model reads at most {longest}")
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = model(input_ids=torch.tensor(ids, device=dev), output_attentions=True)
    model.train(was)
    if not out.attentions or out.attentions[0] is None:
        raise RuntimeError("the model returned no attention weights: switch it to eager attention first "
                           "(minilib.hf.models.eager(model)); transformers 5's default (SDPA) does not return them")
    return [a[0].float().cpu() for a in out.attentions], tokenizer.convert_ids_to_tokens(ids[0]), word_ids[0]
