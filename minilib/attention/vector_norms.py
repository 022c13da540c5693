"""Normalising the vectors themselves: QK-norm (queries and keys) and V-norm (values).

Applied per head, right after ``MultiHeadAttention.project`` makes q, k and v:

- ``l2``     ``sqrt(d) * x / ||x||``: every vector gets length sqrt(d) (each coordinate of size about 1);
- ``layer``  LayerNorm over the head's d coordinates, without its own affine parameters (zero mean,
             unit variance: also length sqrt(d)).

Normalised queries and keys bound every dot score: with ``l2``, ``q.k / sqrt(d)`` lies in
``[-sqrt(d), sqrt(d)]``, so the attention logits cannot grow without limit during training
(Wortsman et al., 2023, "attention logit growth"; Dehghani et al., 2023). A learned gain per head
(``QKVNorm.gain``, starting at 1) multiplies the queries, so a head can still sharpen (Henry et
al., 2020, "Query-Key Normalization"). Normalised values bound what a head can write.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..choices import check_choice

VECTOR_NORMS = (None, "l2", "layer")


def check_vector_norm(what: str, norm) -> str | None:
    return check_choice(what, norm, VECTOR_NORMS)


def l2_normalise(x, eps=1e-6):
    """``sqrt(d) * x / ||x||`` over the last dim."""
    return F.normalize(x, dim=-1, eps=eps) * x.shape[-1] ** 0.5


def layer_normalise(x, eps=1e-5):
    """LayerNorm over the last dim, no affine parameters."""
    return F.layer_norm(x, x.shape[-1:], eps=eps)


def normalise_vectors(x, norm):
    """``x`` normalised by ``norm`` (None: unchanged)."""
    check_vector_norm("vector norm", norm)
    return x if norm is None else (l2_normalise(x) if norm == "l2" else layer_normalise(x))


class QKVNorm(nn.Module):
    """QK-norm with a learned gain per head on the queries, and V-norm; one per attention layer."""

    def __init__(self, n_heads, qk_norm=None, v_norm=None):
        super().__init__()
        self.qk_norm, self.v_norm = check_vector_norm("qk_norm", qk_norm), check_vector_norm("v_norm", v_norm)
        self.gain = nn.Parameter(torch.ones(n_heads)) if qk_norm else None     # [H]: a vector, not weight-decayed

    def forward(self, q, k, v):
        """q, k, v [B, H, T, d] -> the same, normalised as chosen."""
        if self.qk_norm:
            q, k = normalise_vectors(q, self.qk_norm) * self.gain.view(-1, 1, 1), normalise_vectors(k, self.qk_norm)
        return q, k, normalise_vectors(v, self.v_norm)
