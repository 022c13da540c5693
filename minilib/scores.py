"""Score functions: how much should query i look at key j?

Every function maps ``q [..., T, d]`` and ``k [..., S, d]`` to scores ``[..., T, S]``.

- ``dot``       ``q_i . k_j / sqrt(d)`` (Vaswani et al., 2017): one matmul.
- ``additive``  ``w2 . tanh(Wq q_i + Wk k_j)`` (Bahdanau et al., 2015). This equals the
  write-up's ``W2 tanh(W1 [q; k])`` with ``W1 = [Wq | Wk]``, but never builds the
  ``[q; k]`` pairs. The ``[..., T, S, d_a]`` tanh tensor is the cost; we compute it
  in query-row chunks and recompute it in the backward pass, so memory stays
  bounded by one chunk (see ``AdditiveScores``).
- ``cosine``    ``cos(q_i, k_j) * scale``: bounded scores (the BERT log in seed 000).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# elements of one chunk's [..., c, S, d_a] tanh tensor (16 MB in float32)
CHUNK_ELEMENTS = 1 << 22


def dot_scores(q, k, *, scale=None, causal=False):
    """``q k^T * scale`` with ``scale = 1/sqrt(d)`` by default. [..., T, d] x [..., S, d] -> [..., T, S]."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return (q @ k.transpose(-2, -1)) * scale


def cosine_scores(q, k, *, scale=1.0, eps=1e-6, causal=False):
    """Cosine similarity of every query with every key, times ``scale``. Scores lie in [-scale, scale]."""
    return dot_scores(F.normalize(q, dim=-1, eps=eps), F.normalize(k, dim=-1, eps=eps), scale=scale)


def _chunk_rows(batch_numel: int, S: int, d_a: int, T: int) -> int:
    return max(1, min(T, CHUNK_ELEMENTS // max(1, batch_numel * S * d_a)))


def _key_end(i1: int, T: int, S: int, causal: bool) -> int:
    """Keys a causal query block [i0, i1) can see: [0, i1 + S - T)."""
    return min(S, i1 + S - T) if causal else S


class AdditiveScores(torch.autograd.Function):
    """``s[..., i, j] = w2 . tanh(qp[..., i, :] + kp[..., j, :])``, chunked over query rows.

    Forward keeps only ``qp, kp, w2`` (no tanh tensor); backward recomputes each chunk's
    tanh. With ``causal=True`` a chunk skips keys no query in it may see; those scores
    are left at 0 and must be masked with -inf by the caller.
    """

    @staticmethod
    def forward(ctx, qp, kp, w2, chunk, causal):
        # qp [..., T, a]   kp [..., S, a]   w2 broadcastable to [..., 1, 1, a]
        T, S = qp.shape[-2], kp.shape[-2]
        w2col = w2.transpose(-1, -2)                      # [..., 1, a, 1]: t @ w2col sums over a
        out = qp.new_zeros(qp.shape[:-1] + (S,))          # [..., T, S]
        for i0 in range(0, T, chunk):
            i1 = min(T, i0 + chunk)
            s1 = _key_end(i1, T, S, causal)
            t = torch.tanh(qp[..., i0:i1, None, :] + kp[..., None, :s1, :])   # [..., c, s1, a]
            out[..., i0:i1, :s1] = (t @ w2col).squeeze(-1)
        ctx.save_for_backward(qp, kp, w2)
        ctx.chunk, ctx.causal = chunk, causal
        return out

    @staticmethod
    def backward(ctx, g):
        qp, kp, w2 = ctx.saved_tensors
        T, S = qp.shape[-2], kp.shape[-2]
        gqp, gkp = torch.zeros_like(qp), torch.zeros_like(kp)
        gw2 = torch.zeros(qp.shape[:-2] + (1, 1, qp.shape[-1]), dtype=qp.dtype, device=qp.device)
        for i0 in range(0, T, ctx.chunk):
            i1 = min(T, i0 + ctx.chunk)
            s1 = _key_end(i1, T, S, ctx.causal)
            t = torch.tanh(qp[..., i0:i1, None, :] + kp[..., None, :s1, :])   # recomputed
            gi = g[..., i0:i1, :s1].unsqueeze(-1)                            # [..., c, s1, 1]
            gw2 += (gi * t).sum(dim=(-3, -2), keepdim=True)
            dpre = (gi * w2) * (1.0 - t * t)                                  # d s / d(qp_i + kp_j)
            gqp[..., i0:i1, :] += dpre.sum(-2)
            gkp[..., :s1, :] += dpre.sum(-3)
        return gqp, gkp, gw2.sum_to_size(w2.shape), None, None


def additive_scores(q, k, *, w_q, w_k, w2, chunk=None, causal=False):
    """Additive (Bahdanau) scores. ``w_q, w_k``: [d, a] or per head [H, d, a]; ``w2``: [a] or [H, a]."""
    qp, kp = q @ w_q, k @ w_k                             # [..., T, a], [..., S, a]
    w2b = w2.to(qp.dtype).unsqueeze(-2).unsqueeze(-2)     # [..., 1, 1, a]
    if chunk is None:
        chunk = _chunk_rows(qp[..., 0, 0].numel(), kp.shape[-2], qp.shape[-1], qp.shape[-2])
    return AdditiveScores.apply(qp, kp, w2b, int(chunk), bool(causal))


def additive_scores_reference(q, k, *, w_q, w_k, w2, **_):
    """The readable (and slow) formula: build every pair ``[q_i; k_j]`` and apply ``W1 = [Wq; Wk]``."""
    T, S = q.shape[-2], k.shape[-2]
    pairs = torch.cat([q.unsqueeze(-2).expand(*q.shape[:-1], S, q.shape[-1]),
                       k.unsqueeze(-3).expand(*k.shape[:-2], T, S, k.shape[-1])], dim=-1)  # [..., T, S, 2d]
    w1 = torch.cat([w_q, w_k], dim=-2)                    # [..., 2d, a]
    hidden = torch.tanh(pairs @ w1.unsqueeze(-3))         # [..., T, S, a]
    return (hidden * w2.unsqueeze(-2).unsqueeze(-2)).sum(-1)


SCORES = {"dot": dot_scores, "additive": additive_scores, "cosine": cosine_scores}


def check_score(score: str) -> str:
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; valid choices are {', '.join(map(repr, SCORES))}")
    return score
