"""Normalisers: how scores [..., T, S] become attention weights, under a mask.

- ``softmax``      ``exp(s_ij) / sum_l exp(s_il)`` over the keys the query may see (``masks.masked_softmax``:
                   masked keys get -inf, and a row with nothing to see gives zeros, not NaN). Rows sum to 1.
- ``relu``         ``relu(s_ij)``, un-normalised: a row sums to O(L), so the output grows with the sequence.
- ``relu_L``       ``relu(s_ij) / L``: bounded, whatever the length.
- ``relu_sqrtL``   ``relu(s_ij) / sqrt(L)``: the sum grows like sqrt(L).
- ``relu_Lalpha``  ``relu(s_ij) / L**alpha``, ``alpha`` learned per head (``MultiHeadAttention``; starts at 1/2).
- ``sigmoid``      ``sigmoid(s_ij - log L)``: every weight on its own (no competition between keys); the
                   bias ``-log L`` keeps the row sum near ``e^s`` instead of ``L sigmoid(s)``.

``L`` is the number of keys the query **may see**: ``S`` without a mask, ``i + 1`` for query ``i``
under a causal mask, the number of real tokens under a padding mask (``keys_seen``). Dividing by
the full width ``T`` instead would make a causal query's weights depend on how long the padded
batch is, not on what it reads.

Every normaliser gives exactly 0 to a masked key (ReLU and sigmoid are applied key by key, so a
masked score never reaches another weight: no leak) and an all-zero row to a query that may see
nothing, with finite gradients.
"""
from __future__ import annotations

import torch

from ..choices import check_choice
from .masks import masked_softmax

# normaliser -> the exponent alpha of L it divides ReLU weights by (None: learned; absent: not a ReLU)
RELU_ALPHA = {"relu": 0.0, "relu_L": 1.0, "relu_sqrtL": 0.5, "relu_Lalpha": None}
NORMALISERS = ("softmax", *RELU_ALPHA, "sigmoid")
ALPHA_INIT = 0.5       # where a learned alpha starts: halfway between sqrt(L) and L


def check_normaliser(normaliser: str) -> str:
    return check_choice("normaliser", normaliser, NORMALISERS)


def keys_seen(mask: torch.Tensor | None, S: int, dtype=torch.float32) -> torch.Tensor:
    """``L``: how many keys each query may see, ``[..., T, 1]`` (a 0-dim tensor ``S`` without a mask)."""
    if mask is None:
        return torch.tensor(float(S), dtype=dtype)
    return mask.sum(-1, keepdim=True).to(dtype)


def relu_weights(scores, mask=None, alpha=1.0):
    """``relu(s) / L**alpha`` with masked keys at 0; ``alpha`` a number or a tensor (e.g. one per head)."""
    w = torch.relu(scores)
    if mask is not None:
        w = w.masked_fill(~mask, 0.0)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return w
    L = keys_seen(mask, scores.shape[-1], scores.dtype).to(scores.device).clamp_min(1.0)  # L = 0: row is 0 anyway
    return w / L ** alpha


def sigmoid_weights(scores, mask=None, bias=True):
    """``sigmoid(s - log L)`` (``bias=False``: ``sigmoid(s)``) with masked keys at 0."""
    if bias:
        L = keys_seen(mask, scores.shape[-1], scores.dtype).to(scores.device).clamp_min(1.0)
        scores = scores - torch.log(L)
    w = torch.sigmoid(scores)
    return w if mask is None else w.masked_fill(~mask, 0.0)


def normalise(scores, mask=None, normaliser="softmax", *, masking="-inf", alpha=None):
    """Weights [..., T, S] from scores under a bool mask (True = may attend), by ``normaliser``.

    ``alpha``: the exponent of ``relu_Lalpha`` (required there: a learned tensor); ignored otherwise.
    ``masking="zero"`` (the leaky softmax of Lab 3) exists only for the softmax.
    """
    check_normaliser(normaliser)
    if normaliser == "softmax":
        return masked_softmax(scores, mask, masking)
    if masking != "-inf":
        raise ValueError(f"masking={masking!r} is a softmax pitfall (the normaliser sees masked keys); "
                         f"the {normaliser!r} normaliser weighs each key on its own: use masking='-inf'")
    if normaliser == "sigmoid":
        return sigmoid_weights(scores, mask)
    a = RELU_ALPHA[normaliser]
    if a is None:
        if alpha is None:
            raise ValueError("normaliser 'relu_Lalpha' needs alpha (MultiHeadAttention learns one per head); "
                             "pass alpha=0.5 for a fixed exponent")
        a = alpha
    return relu_weights(scores, mask, a)
