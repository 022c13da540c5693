"""``attention()``: attend from queries to keys and read out values, for tensors.

The readable path is spelled out step by step (scores -> mask -> normaliser, e.g.
softmax -> weighted sum of values). The fast path (PyTorch's fused
``scaled_dot_product_attention``) stands beside it and is used when it computes exactly
the same thing: dot-product scores, softmax, -inf masking, no weights requested. Tests hold the two paths equal.
Additive scores have a fused GPU kernel too (``additive_triton``, Triton), used on CUDA tensors under the
same conditions (``MINILIB_TRITON=0`` turns it off); elsewhere the readable path runs the chunked score.
"""
from __future__ import annotations

import torch.nn.functional as F

from . import additive_triton
from .masks import causal_mask, check_mask, check_masking, combine
from .normalisers import check_normaliser, normalise
from .scores import SCORES, check_score


def _sdpa(q, k, v, mask, causal, dropout_p, scale):
    """Fused path. A fully masked row would give NaN inside SDPA: let it see every key, then zero it."""
    T, S = q.shape[-2], k.shape[-2]
    if mask is None and (not causal or T == S):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal, scale=scale)
    mask = combine(mask, causal_mask(T, S, q.device) if causal else None)
    has_any = mask.any(dim=-1, keepdim=True)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~has_any, dropout_p=dropout_p, scale=scale)
    return out.masked_fill(~has_any, 0.0)


def attention(q, k, v, *, score="dot", mask=None, masking="-inf", causal=False,
              dropout_p=0.0, return_weights=False, fast=True, normaliser="softmax", alpha=None, **score_params):
    """Attend from queries ``q [..., T, d]`` to keys ``k [..., S, d]`` and values ``v [..., S, dv]``.

    mask: bool, broadcastable to ``[..., T, S]``, True where query i may attend to key j.
    causal: also forbid keys after the query (``j > i``; with S > T the queries are the last T positions).
    masking: ``"-inf"`` (before the softmax; correct) or ``"zero"`` (after it; leaks).
    fast: allow a fused kernel (SDPA; Triton for additive on CUDA) where it computes the same thing
    (False: always the readable path).
    normaliser: how scores become weights (``normalisers``: softmax, relu / L**alpha, sigmoid);
    ``alpha``: the exponent of ``relu_Lalpha``.
    score_params: passed to the score function (``scale`` for dot/cosine/distances; ``p`` for minkowski;
    ``w_q, w_k, w2`` for additive).
    Returns ``out [..., T, dv]``, and the weights ``[..., T, S]`` if ``return_weights``.
    """
    check_score(score)
    check_masking(masking)
    check_normaliser(normaliser)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"shapes do not fit: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}; "
                         "need q [..., T, d], k [..., S, d], v [..., S, dv]")
    T, S = q.shape[-2], k.shape[-2]
    check_mask(mask, T, S)

    # fast path: identical maths, one fused kernel
    if (fast and score == "dot" and normaliser == "softmax" and masking == "-inf" and not return_weights
            and set(score_params) <= {"scale"}):
        return _sdpa(q, k, v, mask, causal, dropout_p, score_params.get("scale"))
    if (fast and score == "additive" and normaliser == "softmax" and masking == "-inf" and not return_weights
            and additive_triton.supports(q, k, v, mask, dropout_p, **score_params)):
        return additive_triton.attention(q, k, v, mask=mask, causal=causal, **score_params)

    # readable path
    skip_future = causal and masking == "-inf"           # future scores are never used: skip them
    scores = SCORES[score](q, k, causal=skip_future, **score_params)           # [..., T, S]
    full_mask = combine(mask, causal_mask(T, S, q.device) if causal else None)
    weights = normalise(scores, full_mask, normaliser, masking=masking, alpha=alpha)   # [..., T, S]
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    out = dropped @ v                                                         # [..., T, dv]
    return (out, weights) if return_weights else out
