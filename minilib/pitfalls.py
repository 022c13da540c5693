"""Helpers for the chapter *Masking pitfalls*: broken maskings on purpose, and the probes that catch them.

The chapter narrates; the longer pieces live here so they are tested:

- ``PaddedGPT``        a MiniGPT for padded batches (positions counted from the first real token),
                       causal or bidirectional, with seed 001's bug (padding mask on the embeddings) as an option
- ``VARIANTS`` / ``variant_model``   "-inf", "zero" and "embedding bug" versions of one set of weights
- ``mask_probe``       what real positions must not see (the future, the padding) is changed; how much do they move?
- ``fill_softmax`` / ``fill_table``  finite "large negative" fills in float32 / float16 / bfloat16
- ``variant_views``    each variant's attention weights and probe (drawn by ``viz.variant_figure``
                       and ``widgets.masking_panel``)
"""
from __future__ import annotations

import dataclasses

import torch

from .choices import check_choice
from .models import GPTConfig, MiniGPT

VARIANTS = ("-inf", "zero", "embedding bug")
PAD_IN = ("scores", "embeddings")


class PaddedGPT(MiniGPT):
    """MiniGPT that takes padded batches anywhere in the row (left or right padding).

    - positions count from each row's first real token, so adding padding never moves a real token;
    - ``causal=False`` makes every block bidirectional (a BERT-like encoder);
    - ``pad_in="scores"`` (correct) passes the padding mask to attention, which masks the *scores*;
      ``pad_in="embeddings"`` is the bug of seed 001: the embeddings of padding tokens are multiplied
      by 0 and attention gets no padding mask at all.
    With no padding it computes what ``MiniGPT`` computes, and it takes the same ``state_dict``.
    """

    def __init__(self, config: GPTConfig, *, causal: bool = True, pad_in: str = "scores"):
        super().__init__(config)
        self.pad_in, self.causal = check_choice("pad_in", pad_in, PAD_IN), causal
        for block in self.blocks:
            block.attn.causal = causal

    def positions(self, idx, pad_mask=None, offset=0):
        """Real tokens count 0, 1, 2, ... from each row's first real token; padding repeats a neighbour's."""
        if pad_mask is None:
            return super().positions(idx, offset=offset)
        pos = (pad_mask.long().cumsum(1) - 1).clamp(min=0)             # [B, T]
        if int(pos.max()) >= self.config.block_size:
            raise ValueError(f"a row has more than block_size = {self.config.block_size} real tokens")
        return pos

    def embed(self, idx, pad_mask=None, positions=None):
        x, attn_mask = super().embed(idx, pad_mask, positions)
        if self.pad_in == "embeddings" and pad_mask is not None:       # seed 001's bug:
            x = x * pad_mask[..., None]                                 #   zero the padding's embeddings
            attn_mask = None                                            #   and give attention no mask
        return x, attn_mask


def variant_model(model: MiniGPT, variant: str, *, causal: bool = True) -> PaddedGPT:
    """A ``PaddedGPT`` with ``model``'s weights and one of ``VARIANTS``:

    ``"-inf"`` (scores masked before the softmax), ``"zero"`` (weights zeroed after it),
    ``"embedding bug"`` (causal mask with -inf, padding mask on the embeddings).
    """
    check_choice("variant", variant, VARIANTS)
    config = dataclasses.replace(model.config, masking="zero" if variant == "zero" else "-inf")
    out = PaddedGPT(config, causal=causal, pad_in="embeddings" if variant == "embedding bug" else "scores")
    out.load_state_dict(model.state_dict())
    return out.eval()


def _padding_side(pad_mask: torch.Tensor) -> str:
    """"left" if every row's padding comes before its real tokens, "right" if after; else an error."""
    left = (pad_mask.long().diff(dim=1) >= 0).all()
    right = (pad_mask.long().diff(dim=1) <= 0).all()
    if left:
        return "left"
    if right:
        return "right"
    raise ValueError("padding must sit at one end of every row (all rows left-padded or all right-padded)")


@torch.no_grad()
def mask_probe(model, idx, pad_mask, t=None, *, extra_pad=2, seed=0) -> float:
    """Largest change of the logits at real positions ``<= t`` when what they must not see changes.

    Changed at once: every padding token (redrawn), the amount of padding (``extra_pad`` more
    padding tokens on the padding's side) and, for a causal model, every token after ``t``.
    A correctly masked model gives 0 (up to float rounding); ``t`` defaults to the last position.
    Like ``minilib.metrics.leak_probe``, but it also covers the padding.
    """
    B, T = idx.shape
    t = T - 1 if t is None else t
    side = _padding_side(pad_mask)
    causal = model.blocks[0].attn.causal
    g = torch.Generator().manual_seed(seed)                  # drawn on the CPU, then moved: reproducible
    V, dev = model.config.vocab_size, idx.device
    position = torch.arange(T, device=dev)[None, :]
    change = ~pad_mask | (position > t) if causal else ~pad_mask
    other = torch.where(change, (idx + torch.randint(1, V, idx.shape, generator=g).to(dev)) % V, idx)
    more = torch.randint(0, V, (B, extra_pad), generator=g).to(dev)
    none = torch.zeros(B, extra_pad, dtype=torch.bool, device=dev)
    if side == "left":
        other, other_mask, cols = torch.cat([more, other], 1), torch.cat([none, pad_mask], 1), slice(extra_pad, None)
    else:
        other, other_mask, cols = torch.cat([other, more], 1), torch.cat([pad_mask, none], 1), slice(0, T)
    was_training = model.training
    model.eval()
    try:
        a, _ = model(idx, pad_mask=pad_mask)
        b, _ = model(other, pad_mask=other_mask)
    finally:
        model.train(was_training)
    keep = pad_mask & (position <= t)
    return float((a - b[:, cols]).abs().amax(-1)[keep].max())


# ---------------------------------------------------------------- finite fills in low precision

FILL_HOWS = ("replace", "add")


def fill_softmax(scores, mask, fill, dtype, how="replace"):
    """Masked softmax the way much real code writes it, computed in ``dtype``.

    ``how="replace"``: ``scores.masked_fill(~mask, fill)`` (PyTorch raises if ``fill`` does not fit ``dtype``);
    ``how="add"``: ``scores + (~mask) * fill`` (an additive "extended attention mask").
    Returns the weights in ``dtype``.
    """
    check_choice("how", how, FILL_HOWS)
    s = scores.to(dtype)
    s = s.masked_fill(~mask, fill) if how == "replace" else s + (~mask).to(dtype) * fill
    return torch.softmax(s, dim=-1)


def fill_report(weights, mask) -> dict:
    """What went wrong with masked weights: the largest mass on masked keys in rows that have an
    allowed key ("leak"), whether any such row has a NaN, and what the fully masked rows hold."""
    w = weights.double()
    partial = mask.any(-1)
    leak = w.masked_fill(mask, 0.0).sum(-1)[partial]
    full = w[~partial]
    return {"leak": float(leak.nan_to_num(nan=0.0).max()) if leak.numel() else 0.0,
            "nan_in_partial_rows": bool(w[partial].isnan().any()),
            "fully_masked_rows": "none" if full.numel() == 0 else ("NaN" if full.isnan().any() else "finite")}


def fill_table(scores, mask, fills, dtypes, hows=FILL_HOWS) -> list[dict]:
    """``fill_report`` for every (how, fill, dtype); an entry whose fill PyTorch refuses gets ``error``.

    ``fills`` maps a label to a number or to a function ``dtype -> number`` (e.g. ``torch.finfo(dtype).min``).
    """
    rows = []
    for how in hows:
        for label, fill in fills.items():
            for dtype in dtypes:
                value = fill(dtype) if callable(fill) else fill
                row = {"how": how, "fill": label, "dtype": str(dtype).replace("torch.", "")}
                try:
                    row.update(fill_report(fill_softmax(scores, mask, value, dtype, how), mask))
                except RuntimeError as e:
                    row["error"] = str(e).split("\n")[0]
                rows.append(row)
    return rows


# ---------------------------------------------------------------- what each variant attends to

def variant_views(model, idx, pad_mask, t=None, *, variants=VARIANTS) -> dict:
    """For each variant: its layer-by-layer attention weights (row 0 of the batch, mean over heads) and its probe."""
    views = {}
    for v in variants:
        m = variant_model(model, v, causal=model.blocks[0].attn.causal)
        weights = m.attention_weights(idx, pad_mask)
        views[v] = {"weights": [w[0].mean(0) for w in weights], "probe": mask_probe(m, idx, pad_mask, t)}
    return views
