"""The additive score function as it was before the speed work (minilib commit 8bb1e48), kept only
so that ``bench_attention.py`` can measure before against after in one run. Not used by minilib.

It computes ``tanh(qp_i + kp_j)`` in chunks of query rows (about 16 MB each), skips keys a causal
chunk cannot see, and recomputes the tanh in backward, where the gradients are formed by
broadcast-multiply-then-sum passes over the ``[..., c, S, d_a]`` tensor.
"""
from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 22


def _chunk_rows(batch_numel: int, S: int, d_a: int, T: int) -> int:
    return max(1, min(T, CHUNK_ELEMENTS // max(1, batch_numel * S * d_a)))


def _key_end(i1: int, T: int, S: int, causal: bool) -> int:
    return min(S, i1 + S - T) if causal else S


class AdditiveScoresV0(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qp, kp, w2, chunk, causal):
        T, S = qp.shape[-2], kp.shape[-2]
        w2col = w2.transpose(-1, -2)
        out = qp.new_zeros(qp.shape[:-1] + (S,))
        for i0 in range(0, T, chunk):
            i1 = min(T, i0 + chunk)
            s1 = _key_end(i1, T, S, causal)
            t = torch.tanh(qp[..., i0:i1, None, :] + kp[..., None, :s1, :])
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
            t = torch.tanh(qp[..., i0:i1, None, :] + kp[..., None, :s1, :])
            gi = g[..., i0:i1, :s1].unsqueeze(-1)
            gw2 += (gi * t).sum(dim=(-3, -2), keepdim=True)
            dpre = (gi * w2) * (1.0 - t * t)
            gqp[..., i0:i1, :] += dpre.sum(-2)
            gkp[..., :s1, :] += dpre.sum(-3)
        return gqp, gkp, gw2.sum_to_size(w2.shape), None, None


def additive_scores_v0(q, k, *, w_q, w_k, w2, chunk=None, causal=False):
    """Same signature and values as ``minilib.scores.additive_scores``."""
    qp, kp = q @ w_q, k @ w_k
    w2b = w2.to(qp.dtype).unsqueeze(-2).unsqueeze(-2)
    if chunk is None:
        chunk = _chunk_rows(qp[..., 0, 0].numel(), kp.shape[-2], qp.shape[-1], qp.shape[-2])
    return AdditiveScoresV0.apply(qp, kp, w2b, int(chunk), bool(causal))
