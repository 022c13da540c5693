"""Helpers for the chapter *Masking pitfalls*: broken maskings on purpose, and the probes that catch them.

The chapter narrates; the longer pieces live here so they are tested:

- ``PaddedGPT``        a MiniGPT for padded batches (positions counted from the first real token),
                       causal or bidirectional, with seed 001's bug (padding mask on the embeddings) as an option
- ``VARIANTS`` / ``variant_model``   "-inf", "zero" and "embedding bug" versions of one set of weights
- ``mask_probe``       what real positions must not see (the future, the padding) is changed; how much do they move?
- ``fill_softmax`` / ``fill_table``  finite "large negative" fills in float32 / float16 / bfloat16
- ``variant_views``    each variant's attention weights and probe (drawn by ``viz.variant_figure``
                       and ``widgets.masking_panel``)
- ``check_masked_softmax``  the exercise's checker
"""
from __future__ import annotations

import dataclasses
import textwrap

import torch

from .attention import masked_softmax
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

    def positions(self, idx, pad_mask=None):
        """Real tokens count 0, 1, 2, ... from each row's first real token; padding repeats a neighbour's."""
        if pad_mask is None:
            return super().positions(idx)
        pos = (pad_mask.long().cumsum(1) - 1).clamp(min=0)             # [B, T]
        if int(pos.max()) >= self.config.block_size:
            raise ValueError(f"a row has more than block_size = {self.config.block_size} real tokens")
        return pos

    def embed(self, idx, pad_mask=None):
        x, attn_mask = super().embed(idx, pad_mask)
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


# ---------------------------------------------------------------- the exercise's checker

def _check_cases(seed, trials):
    g = torch.Generator().manual_seed(seed)
    for n in range(trials):
        B, T, S = 2, int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(1, 7, (1,), generator=g))
        scores = torch.randn(B, T, S, generator=g, dtype=torch.float64) * (1 + 30 * (n % 3 == 2))
        mask = torch.rand(B, T, S, generator=g) < 0.6
        mask[0, 0] = False                                   # always at least one fully masked row
        if n % 4 == 1:
            mask[1] = True                                   # and a batch row with nothing masked
        yield scores, mask


def check_masked_softmax(fn, *, trials=24, seed=0, verbose=True) -> bool:
    """Test ``fn(scores, mask)`` against ``minilib.masks.masked_softmax(..., "-inf")``.

    Random float64 inputs, including fully masked rows and large scores; the weights must match,
    and the gradients must match and be finite. Prints a hint (if ``verbose``) instead of raising;
    returns True if all checks pass.
    """
    def say(message):                                       # wrapped, to fit a notebook's width
        if verbose:
            print(textwrap.fill(message, width=88))

    for scores, mask in _check_cases(seed, trials):
        s1 = scores.clone().requires_grad_(True)
        s2 = scores.clone().requires_grad_(True)
        try:
            got = fn(s1, mask)
        except NotImplementedError:
            say("Not implemented yet. Hint: fill the masked scores before the softmax, then deal with the rows "
                  "in which every key is masked (their weights should be all zeros).")
            return False
        want = masked_softmax(s2, mask, "-inf")
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            say(f"Expected a tensor of shape {tuple(want.shape)}, got {getattr(got, 'shape', type(got))}.")
            return False
        full = ~mask.any(-1)
        if not torch.isfinite(got).all():
            where = "in fully masked rows" if torch.isfinite(got[~full]).all() else "in rows with allowed keys"
            say(f"Your weights contain NaN or inf {where}. Hint: softmax of a row of -inf is 0/0.")
            return False
        if got.masked_fill(mask, 0.0).abs().max() > 0:
            say("Masked keys get non-zero weight: the mask leaks. Hint: masked weights must be exactly 0.")
            return False
        if not torch.allclose(got[~full], want[~full], atol=1e-9, rtol=0):
            say("Rows with allowed keys differ from the reference: they should sum to 1 over the allowed keys "
                  "only (did the normaliser include masked scores?).")
            return False
        if got[full].abs().sum() > 0:
            say("A fully masked row should give all-zero weights (nothing may be attended to).")
            return False
        w = torch.randn(want.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        (got * w).sum().backward()
        (want * w).sum().backward()
        if s1.grad is None or not torch.isfinite(s1.grad).all():
            say("The gradient with respect to the scores is missing or not finite. Hint: NaN can come back "
                  "through a branch whose forward value you replaced; avoid computing 0/0 at all.")
            return False
        if not torch.allclose(s1.grad, s2.grad, atol=1e-9, rtol=0):
            say("The gradients differ from the reference's.")
            return False
    say(f"All {trials} checks passed: no leak, fully masked rows give zeros, gradients finite and correct.")
    return True
