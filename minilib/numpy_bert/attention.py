"""Multi-head self-attention with the padding mask on the *scores*, and its backward.

The weights are laid out as MiniBERT's ``MultiHeadAttention`` (``qkv="separate"``): one
``in_proj`` of shape ``[3C, C]`` whose row blocks compute q, k and v, and an ``out_proj``.
Shapes: ``x [B, T, C]``, per head ``q, k, v [B, H, T, d]`` with ``d = C / H``::

    s = q k^T / sqrt(d)                          # [B, H, T, T]
    a = softmax(s with padding keys at -inf)     # rows sum to 1 over the real keys
    o = a v                                      # [B, H, T, d], heads side by side -> [B, T, C]

Backward, from ``do``: ``da = do v^T``, ``dv = a^T do``, ``ds = softmax_backward(da, a) / sqrt(d)``,
``dq = ds k``, ``dk = ds^T q``. A masked key has ``a = 0``, so its score gets no gradient.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .linear import linear, linear_backward
from .softmax import softmax, softmax_backward


class AttentionCache(NamedTuple):
    x: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    weights: np.ndarray     # the attention weights a [B, H, T, T]
    merged: np.ndarray      # heads side by side, the input of out_proj [B, T, C]


def split_heads(t, n_head):
    """``[B, T, C] -> [B, H, T, C / H]``."""
    B, T, C = t.shape
    return t.reshape(B, T, n_head, C // n_head).transpose(0, 2, 1, 3)


def merge_heads(t):
    """``[B, H, T, d] -> [B, T, H * d]``."""
    B, H, T, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(B, T, H * d)


def self_attention(p, x, n_head, pad_mask=None):
    """``x [B, T, C]``; ``pad_mask [B, T]`` bool, True at real tokens (None: every key is real).

    ``p``: ``in_proj.weight [3C, C]``, ``in_proj.bias``, ``out_proj.weight [C, C]``, ``out_proj.bias``.
    Returns ``(y [B, T, C], cache)``.
    """
    C = x.shape[-1]
    qkv = linear(x, p["in_proj.weight"], p["in_proj.bias"])                    # [B, T, 3C]
    q, k, v = (split_heads(qkv[..., i * C:(i + 1) * C], n_head) for i in range(3))
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(C // n_head)                  # [B, H, T, T]
    mask = None if pad_mask is None else pad_mask[:, None, None, :]           # keys only: [B, 1, 1, T]
    a = softmax(scores, mask)
    merged = merge_heads(a @ v)                                               # [B, T, C]
    y = linear(merged, p["out_proj.weight"], p["out_proj.bias"])
    return y, AttentionCache(x, q, k, v, a, merged)


def self_attention_backward(dy, cache: AttentionCache, p):
    """``(dx, grads)`` with grads keyed as ``p``."""
    x, q, k, v, a, merged = cache
    n_head, d = q.shape[1], q.shape[-1]
    dmerged, dWo, dbo = linear_backward(dy, merged, p["out_proj.weight"])
    do = split_heads(dmerged, n_head)                                         # [B, H, T, d]
    da = do @ v.swapaxes(-1, -2)
    dv = a.swapaxes(-1, -2) @ do
    ds = softmax_backward(da, a) / math.sqrt(d)
    dq, dk = ds @ k, ds.swapaxes(-1, -2) @ q
    dqkv = np.concatenate([merge_heads(t) for t in (dq, dk, dv)], -1)         # [B, T, 3C]
    dx, dWi, dbi = linear_backward(dqkv, x, p["in_proj.weight"])
    return dx, {"in_proj.weight": dWi, "in_proj.bias": dbi, "out_proj.weight": dWo, "out_proj.bias": dbo}
