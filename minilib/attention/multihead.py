"""``MultiHeadAttention``: self-attention as a module, with a choice of score, Q/K/V sharing and masking.

How ``x`` becomes queries, keys and values is written once, in ``MultiHeadAttention.project``.
Everything that needs q, k or v (the forward pass, the labs, ``experiments.head_qk``, the
chapters) calls it, so nothing can disagree with the model about which projection is which.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..choices import check_choice
from .functional import attention
from .learned import LearnedScalars
from .masks import check_masking, key_padding_mask
from .normalisers import check_normaliser
from .positions import apply_rope
from .scores import SCORES, check_score
from .vector_norms import QKVNorm

QKV_MODES = ("separate", "shared_qk", "shared_qkv")
# The blocks of rows of ``in_proj`` (each d_attn rows), in order, for each mode.
PROJECTIONS = {"separate": ("q", "k", "v"), "shared_qk": ("qk", "v"), "shared_qkv": ("qkv",)}


def check_qkv(qkv: str) -> str:
    return check_choice("qkv", qkv, QKV_MODES)


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
    """Multi-head self-attention with a choice of score, normaliser, Q/K/V sharing, vector norms and masking.

    qkv: ``"separate"`` (Q, K, V from three projections), ``"shared_qk"`` (Q = K from one
    projection, V from another), ``"shared_qkv"`` (Q = K = V from one projection).
    d_attn: width of q, k and v over all heads (default ``d_model``); ``out_proj`` maps it back to ``d_model``.
    d_additive: width ``d_a`` of the additive score's tanh layer (default: d_head).
    fast: use PyTorch's fused attention kernel where it computes the same thing (see ``attention``).
    normaliser: ``softmax`` | ``relu`` | ``relu_L`` | ``relu_sqrtL`` | ``relu_Lalpha`` | ``sigmoid`` (``normalisers``).
    tau, learn_tau: the cosine score's scale, fixed or learned per head (``learned``).
    qk_norm, v_norm: ``None`` | ``"l2"`` | ``"layer"``, applied in ``project`` (``vector_norms``).
    rope: rotate queries and keys by their positions (rotary embeddings, ``positions``), in ``project``.
    """

    def __init__(self, d_model, n_heads, *, score="dot", qkv="separate", masking="-inf",
                 causal=True, dropout=0.0, d_additive=None, bias=True, d_attn=None, fast=True,
                 normaliser="softmax", tau=1.0, learn_tau=False, qk_norm=None, v_norm=None, rope=False):
        super().__init__()
        d_attn = d_model if d_attn is None else d_attn
        if n_heads < 1 or d_attn % n_heads != 0:
            raise ValueError(f"the attention width ({d_attn}) must be divisible by n_heads ({n_heads}); "
                             f"choose n_heads among the divisors of {d_attn}, e.g. "
                             f"{[h for h in range(1, d_attn + 1) if d_attn % h == 0][:8]}")
        self.score, self.qkv, self.masking = check_score(score), check_qkv(qkv), check_masking(masking)
        self.normaliser = check_normaliser(normaliser)
        self.causal, self.dropout, self.fast = causal, dropout, fast
        self.n_heads, self.d_model, self.d_attn = n_heads, d_model, d_attn
        self.d_head = d_attn // n_heads
        self.in_proj = nn.Linear(d_model, len(PROJECTIONS[qkv]) * d_attn, bias=bias)   # x -> [q | k | v]
        self.out_proj = nn.Linear(d_attn, d_model, bias=bias)
        self.additive = AdditiveScore(n_heads, self.d_head, d_additive or self.d_head) if score == "additive" else None
        self.learned = LearnedScalars(n_heads, score=score, normaliser=normaliser, tau=tau, learn_tau=learn_tau)
        self.norms = QKVNorm(n_heads, qk_norm, v_norm) if qk_norm or v_norm else None
        self.rope = rope

    # ------------------------------------------------------------------ x -> q, k, v
    def rows(self, name: str) -> slice:
        """The rows of ``in_proj`` (weight and bias) that compute ``"q"``, ``"k"`` or ``"v"``."""
        check_choice("projection", name, ("q", "k", "v"))
        i = next(i for i, block in enumerate(PROJECTIONS[self.qkv]) if name in block)
        return slice(i * self.d_attn, (i + 1) * self.d_attn)

    def split_heads(self, t):
        """[B, T, d_attn] -> [B, H, T, d_head]"""
        B, T, _ = t.shape
        return t.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

    def merge_heads(self, t):
        """[B, H, T, d_head] -> [B, T, d_attn] (the heads side by side)"""
        B, H, T, dh = t.shape
        return t.transpose(1, 2).reshape(B, T, H * dh)

    def project(self, x, positions=None):
        """x [B, T, d_model] -> (q, k, v), each [B, H, T, d_head]. The only place ``in_proj`` is split.

        With ``shared_qk`` the query and key are the same tensor (``q is k``); with
        ``shared_qkv`` all three are (before QK-/V-normalisation, which is applied here when chosen).
        With ``rope``, q and k are then rotated by ``positions`` ([T] or [B, T]; default 0..T-1).
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must be [B, T, {self.d_model}], got {tuple(x.shape)}")
        parts = [self.split_heads(p) for p in self.in_proj(x).split(self.d_attn, dim=-1)]
        if self.qkv == "separate":
            q, k, v = parts
        elif self.qkv == "shared_qk":
            (q, v), k = parts, parts[0]
        else:
            q = k = v = parts[0]
        if self.norms is not None:
            q, k, v = self.norms(q, k, v)
        if self.rope:
            positions = torch.arange(x.shape[1], device=x.device) if positions is None else positions
            shared = q is k
            q = apply_rope(q, positions)
            k = q if shared else apply_rope(k, positions)
        return q, k, v

    def score_params(self) -> dict:
        """The learned parameters the score function takes (additive weights, cosine scale, Minkowski p)."""
        return (self.additive.params() if self.additive is not None else {}) | self.learned.score_params()

    def scores(self, x, positions=None):
        """The attention logits ``[B, H, T, T]`` of x, before any mask or normaliser (what ``forward`` normalises)."""
        q, k, _ = self.project(x, positions)
        return SCORES[self.score](q, k, **self.score_params())

    @torch.no_grad()
    def scale_qk_(self, c: float):
        """Multiply queries and keys by ``c`` in place, so every dot score is multiplied by ``c**2``."""
        if self.qkv == "shared_qkv":
            raise ValueError("with qkv='shared_qkv' the values come from the same projection: scaling it would "
                             "scale the values too; use qkv='separate' or 'shared_qk'")
        for r in {(s.start, s.stop) for s in (self.rows("q"), self.rows("k"))}:
            self.in_proj.weight[slice(*r)] *= c
            if self.in_proj.bias is not None:
                self.in_proj.bias[slice(*r)] *= c
        return self

    # ------------------------------------------------------------------ forward
    def forward(self, x, pad_mask=None, return_weights=False, positions=None, cache=None):
        """x [B, T, C]; pad_mask bool [B, T], True where a token is real. Returns y [B, T, C] (and weights [B, H, T, S]).

        positions: the tokens' positions, for rotary embeddings. cache: a ``kv_cache.LayerCache``; the new
        keys and values are appended to it and the T queries attend to all S cached keys (S >= T).
        """
        B, T = x.shape[:2]
        mask = None
        if cache is not None and pad_mask is not None:
            raise ValueError("a key/value cache is for generating unpadded rows: pass pad_mask=None")
        if pad_mask is not None:
            if pad_mask.shape != (B, T) or pad_mask.dtype != torch.bool:
                raise ValueError(f"pad_mask must be a bool tensor of shape [B, T] = [{B}, {T}] (True = real token), "
                                 f"got {pad_mask.dtype} {tuple(pad_mask.shape)}")
            mask = key_padding_mask(pad_mask)                                 # [B, 1, 1, T]
        q, k, v = self.project(x, positions)                                  # [B, H, T, dh] each
        if cache is not None:
            k, v = cache.extend(k, v)                                         # [B, H, S, dh]
        res = attention(q, k, v, score=self.score, mask=mask, masking=self.masking, causal=self.causal,
                        dropout_p=self.dropout if self.training else 0.0, fast=self.fast,
                        return_weights=return_weights, normaliser=self.normaliser,
                        **self.learned.normaliser_params(), **self.score_params())
        out, weights = res if return_weights else (res, None)
        y = self.out_proj(self.merge_heads(out))                              # [B, T, C]
        return (y, weights) if return_weights else y
