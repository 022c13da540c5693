"""Attention: ``attention()`` for tensors, and ``MultiHeadAttention`` for models.

The readable path is spelled out step by step (scores -> mask -> softmax -> weighted
sum of values). The fast path (PyTorch's fused ``scaled_dot_product_attention``)
stands beside it and is used when it computes exactly the same thing: dot-product
scores, -inf masking, no weights requested. Tests hold the two paths equal.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .masks import causal_mask, check_mask, check_masking, combine, key_padding_mask, masked_softmax
from .scores import SCORES, check_score

QKV_MODES = ("separate", "shared_qk", "shared_qkv")


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
              dropout_p=0.0, return_weights=False, **score_params):
    """Attend from queries ``q [..., T, d]`` to keys ``k [..., S, d]`` and values ``v [..., S, dv]``.

    mask: bool, broadcastable to ``[..., T, S]``, True where query i may attend to key j.
    causal: also forbid keys after the query (``j > i``).
    masking: ``"-inf"`` (before the softmax; correct) or ``"zero"`` (after it; leaks).
    score_params: passed to the score function (``scale`` for dot/cosine; ``w_q, w_k, w2`` for additive).
    Returns ``out [..., T, dv]``, and the weights ``[..., T, S]`` if ``return_weights``.
    """
    check_score(score)
    check_masking(masking)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"shapes do not fit: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}; "
                         "need q [..., T, d], k [..., S, d], v [..., S, dv]")
    T, S = q.shape[-2], k.shape[-2]
    check_mask(mask, T, S)

    # fast path: identical maths, one fused kernel
    if score == "dot" and masking == "-inf" and not return_weights and set(score_params) <= {"scale"}:
        return _sdpa(q, k, v, mask, causal, dropout_p, score_params.get("scale"))

    # readable path
    skip_future = causal and masking == "-inf"           # future scores are never used: skip them
    scores = SCORES[score](q, k, causal=skip_future, **score_params)           # [..., T, S]
    full_mask = combine(mask, causal_mask(T, S, q.device) if causal else None)
    weights = masked_softmax(scores, full_mask, masking)                      # [..., T, S]
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    out = dropped @ v                                                         # [..., T, dv]
    return (out, weights) if return_weights else out


class AdditiveScore(nn.Module):
    """The learned parameters of additive scores, one set per head: Wq, Wk [H, d_head, d_a], w2 [H, d_a]."""

    def __init__(self, n_heads, d_head, d_a):
        super().__init__()
        bound = 1.0 / math.sqrt(d_head)
        self.w_q = nn.Parameter(torch.empty(n_heads, d_head, d_a).uniform_(-bound, bound))
        self.w_k = nn.Parameter(torch.empty(n_heads, d_head, d_a).uniform_(-bound, bound))
        self.w2 = nn.Parameter(torch.empty(n_heads, d_a).uniform_(-1 / math.sqrt(d_a), 1 / math.sqrt(d_a)))

    def params(self):
        return {"w_q": self.w_q, "w_k": self.w_k, "w2": self.w2}


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with a choice of score, Q/K/V sharing and masking.

    qkv: ``"separate"`` (three projections), ``"shared_qk"`` (Q = K), ``"shared_qkv"`` (Q = K = V).
    d_additive: width ``d_a`` of the additive score's tanh layer (default: d_head).
    """

    def __init__(self, d_model, n_heads, *, score="dot", qkv="separate", masking="-inf",
                 causal=True, dropout=0.0, d_additive=None, bias=True):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads}); "
                             f"choose n_heads among the divisors of d_model, e.g. "
                             f"{[h for h in range(1, d_model + 1) if d_model % h == 0][:8]}")
        if qkv not in QKV_MODES:
            raise ValueError(f"unknown qkv {qkv!r}; valid choices are {', '.join(map(repr, QKV_MODES))}")
        self.score, self.qkv, self.masking = check_score(score), qkv, check_masking(masking)
        self.causal, self.dropout, self.n_heads, self.d_model = causal, dropout, n_heads, d_model
        self.d_head = d_model // n_heads
        self.n_proj = {"separate": 3, "shared_qk": 2, "shared_qkv": 1}[qkv]
        self.in_proj = nn.Linear(d_model, self.n_proj * d_model, bias=bias)   # x -> [q | k | v] (shared ones once)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.additive = AdditiveScore(n_heads, self.d_head, d_additive or self.d_head) if score == "additive" else None

    def _heads(self, t, B, T):
        return t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)      # [B, T, C] -> [B, H, T, dh]

    def forward(self, x, pad_mask=None, return_weights=False):
        """x [B, T, C]; pad_mask bool [B, T], True where a token is real. Returns y [B, T, C] (and weights [B, H, T, T])."""
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be [B, T, {self.d_model}], got {tuple(x.shape)}")
        B, T, _ = x.shape
        mask = None
        if pad_mask is not None:
            if pad_mask.shape != (B, T) or pad_mask.dtype != torch.bool:
                raise ValueError(f"pad_mask must be a bool tensor of shape [B, T] = [{B}, {T}] (True = real token), "
                                 f"got {pad_mask.dtype} {tuple(pad_mask.shape)}")
            mask = key_padding_mask(pad_mask)                                 # [B, 1, 1, T]
        parts = self.in_proj(x).split(self.d_model, dim=-1)
        q = self._heads(parts[0], B, T)
        k = self._heads(parts[1], B, T) if self.n_proj >= 2 else q
        v = self._heads(parts[2], B, T) if self.n_proj == 3 else k
        params = self.additive.params() if self.additive is not None else {}
        res = attention(q, k, v, score=self.score, mask=mask, masking=self.masking, causal=self.causal,
                        dropout_p=self.dropout if self.training else 0.0,
                        return_weights=return_weights, **params)
        out, weights = res if return_weights else (res, None)
        y = self.out_proj(out.transpose(1, 2).reshape(B, T, self.d_model))   # [B, H, T, dh] -> [B, T, C]
        return (y, weights) if return_weights else y
