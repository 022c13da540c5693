"""Additive scores, fast: ``w2 . tanh(qp_i + kp_j)`` for every pair without holding every pair.

``scores.additive_scores`` is the formula; this module is how it is computed. Each choice
here is measured in ``make bench`` (``book/speed.ipynb``):

- ``AdditiveScores``: query-row chunks, causal key skipping, tanh through sigmoid, and
  a backward that recomputes the chunk instead of storing it (eager PyTorch, any device);
- ``compile_additive`` / ``additive_dense``: an optional ``torch.compile``-fused kernel.
"""
from __future__ import annotations

import os
import warnings

import torch

# Elements of one chunk's [N, c, S, d_a] tensor. About 4 MB in float32: small enough to
# stay in the CPU's caches between the few passes made over it, big enough that Python's
# per-chunk overhead is small. On a GPU, fewer and bigger chunks (fewer kernel launches).
CHUNK_ELEMENTS = 1 << 20
CHUNK_ELEMENTS_GPU = 1 << 23


def _chunk_rows(batch_numel: int, S: int, d_a: int, T: int, device=None) -> int:
    """Query rows per chunk so that one chunk's [N, c, S, d_a] tensor holds about CHUNK_ELEMENTS."""
    target = CHUNK_ELEMENTS_GPU if device is not None and torch.device(device).type == "cuda" else CHUNK_ELEMENTS
    return max(1, min(T, target // max(1, batch_numel * S * d_a)))


def _key_end(i1: int, T: int, S: int, causal: bool) -> int:
    """Keys a causal query block [i0, i1) can see: [0, i1 + S - T)."""
    return min(S, i1 + S - T) if causal else S


def _blocks(T: int, S: int, chunk: int, causal: bool):
    """(i0, i1, s1): query rows [i0, i1) and the keys [0, s1) they need."""
    for i0 in range(0, T, chunk):
        i1 = min(T, i0 + chunk)
        yield i0, i1, _key_end(i1, T, S, causal)


def _flat(qp, kp, w2, lead, w_shape):
    """Broadcast the leading dims and flatten them to one batch dim N; pre-double qp, kp (see below)."""
    T, S, a = qp.shape[-2], kp.shape[-2], qp.shape[-1]
    q2 = (2 * qp).expand(*lead, T, a).reshape(-1, T, a)           # [N, T, a]
    k2 = (2 * kp).expand(*lead, S, a).reshape(-1, S, a)           # [N, S, a]
    w = w2.expand(*lead, 1, 1, a).reshape(w_shape)                # [N, a, 1] or [N, 1, a]
    return q2, k2, w


class AdditiveScores(torch.autograd.Function):
    """``s[..., i, j] = w2 . tanh(qp[..., i, :] + kp[..., j, :])``, chunked over query rows.

    What makes it fast (each choice is measured in ``make bench``):

    - **tanh through sigmoid.** ``tanh(x) = 2 u - 1`` with ``u = sigmoid(2x)``, and
      ``tanh'(x) = 4 u (1 - u)``. PyTorch's CPU sigmoid is several times cheaper than its
      tanh, and the derivative needs no second transcendental function. Then
      ``s = 2 (u . w2) - sum(w2)``: one batched matrix-vector product per chunk.
    - **Backward mostly as matrix products.** ``dL/dw2 = 2 sum_ij g_ij u_ij - sum_ij g_ij``
      and ``dL/dqp_i = 4 w2 * sum_j g_ij u_ij (1 - u_ij)`` are batched matmuls over the
      chunk; only ``dL/dkp_j`` (the same sum over i) stays a multiply-then-sum.
    - **Chunks of query rows**, about ``CHUNK_ELEMENTS`` each, so the
      ``[N, c, S, d_a]`` tensor is small (cache-resident on a CPU) and memory stays
      bounded by one chunk; forward keeps only ``qp, kp, w2`` and backward recomputes ``u``.
    - **Causal key skipping.** With ``causal=True`` a chunk skips keys no query in it may
      see (about half the pairs); those scores are left at 0 and must be masked with
      -inf by the caller (``attention()`` does).
    """

    @staticmethod
    def forward(ctx, qp, kp, w2, chunk, causal):
        # qp [..., T, a]   kp [..., S, a]   w2 broadcastable to [..., 1, 1, a]
        T, S, a = qp.shape[-2], kp.shape[-2], qp.shape[-1]
        lead = torch.broadcast_shapes(qp.shape[:-2], kp.shape[:-2], w2.shape[:-3])
        q2, k2, w = _flat(qp, kp, w2, lead, (-1, 1, a))
        N = q2.shape[0]
        w_sum = w.sum(-1, keepdim=True)                                           # [N, 1, 1]
        out = q2.new_zeros(N, T, S)
        for i0, i1, s1 in _blocks(T, S, chunk, causal):
            u = torch.add(q2[:, i0:i1, None, :], k2[:, None, :s1, :]).sigmoid_()  # [N, c, s1, a]
            s = torch.baddbmm(w_sum, w, u.view(N, -1, a).transpose(1, 2), beta=-1, alpha=2)  # 2 w2.u - sum(w2)
            out[:, i0:i1, :s1] = s.view(N, i1 - i0, s1)
        ctx.save_for_backward(qp, kp, w2)
        ctx.chunk, ctx.causal, ctx.lead = chunk, causal, lead
        return out.view(*lead, T, S)

    @staticmethod
    def backward(ctx, g):
        qp, kp, w2 = ctx.saved_tensors
        T, S, a = qp.shape[-2], kp.shape[-2], qp.shape[-1]
        q2, k2, w = _flat(qp, kp, w2, ctx.lead, (-1, 1, a))
        N = q2.shape[0]
        g = g.reshape(N, T, S)
        acc = dict(dtype=torch.promote_types(qp.dtype, torch.float32), device=qp.device)  # accumulate in >= fp32
        gq, gk, gw = torch.zeros(N, T, a, **acc), torch.zeros(N, S, a, **acc), torch.zeros(N, 1, a, **acc)
        for i0, i1, s1 in _blocks(T, S, ctx.chunk, ctx.causal):
            c = i1 - i0
            u = torch.add(q2[:, i0:i1, None, :], k2[:, None, :s1, :]).sigmoid_()  # recomputed [N, c, s1, a]
            gi = g[:, i0:i1, :s1]                                                 # [N, c, s1]
            gw += torch.bmm(gi.reshape(N, 1, c * s1), u.view(N, c * s1, a)).mul_(2)
            gw -= gi.sum((1, 2)).view(N, 1, 1)
            v = u.addcmul_(u, u, value=-1)                                        # u (1 - u), in place
            gq[:, i0:i1] += torch.matmul(gi.unsqueeze(-2), v).squeeze(-2)        # sum over keys j
            gk[:, :s1] += (gi.unsqueeze(-1) * v).sum(1)                           # sum over queries i
        gq = (gq * w).mul_(4).to(qp.dtype).view(*ctx.lead, T, a).sum_to_size(qp.shape)
        gk = (gk * w).mul_(4).to(kp.dtype).view(*ctx.lead, S, a).sum_to_size(kp.shape)
        gw = gw.to(w2.dtype).view(*ctx.lead, 1, 1, a).sum_to_size(w2.shape)
        return gq, gk, gw, None, None


def scores(qp, kp, w2, *, chunk=None, causal=False, compile=None):
    """``w2 . tanh(qp_i + kp_j)`` for projected queries ``qp [..., T, a]`` and keys ``kp [..., S, a]``.

    ``compile``: use a ``torch.compile``-fused kernel instead of the chunked eager path
    (``None``: as ``$MINILIB_COMPILE`` says; off by default, see ``compile_additive``).
    """
    w2b = w2.to(qp.dtype).unsqueeze(-2).unsqueeze(-2)     # [..., 1, 1, a]
    if compile if compile is not None else compile_additive():
        out = _compiled_additive(qp, kp, w2b)
        if out is not None:
            return out
    if chunk is None:
        chunk = _chunk_rows(qp[..., 0, 0].numel(), kp.shape[-2], qp.shape[-1], qp.shape[-2], qp.device)
    return AdditiveScores.apply(qp, kp, w2b, int(chunk), bool(causal))


# ---------------------------------------------------------------- optional: torch.compile
def compile_additive() -> bool:
    """Whether ``additive_scores`` uses ``torch.compile`` by default: ``MINILIB_COMPILE=1`` turns it on.

    Off by default. On the 2-core CPU we measured (``make bench``), the compiled fused
    kernel is *slower* than the chunked eager path, which skips the causal half of the
    pairs and uses the cheap sigmoid, and its first call costs 15-40 s of compilation
    (more for each new sequence length until shapes go dynamic). On a GPU it is unmeasured:
    ``make bench`` on a GPU machine times both, so the default can follow the numbers.
    """
    return os.environ.get("MINILIB_COMPILE", "0").strip().lower() in ("1", "true", "yes", "on")


def additive_dense(qp, kp, w2):
    """Every ``[..., T, S]`` score in one expression, no chunks, no causal skipping: the
    formula ``torch.compile`` fuses into one loop (the ``[..., T, S, a]`` tensor never exists)."""
    u = torch.sigmoid(2 * (qp[..., :, None, :] + kp[..., None, :, :]))    # tanh(x) = 2 sigmoid(2x) - 1
    return ((2 * u - 1) * w2).sum(-1)


_COMPILED: dict = {}      # "fn": the compiled additive_dense; "error": why compiling failed


def _compiled_additive(qp, kp, w2b):
    """The compiled fused scores, or None (after one warning) where compiling fails, e.g. no C++ compiler."""
    if "error" in _COMPILED:
        return None
    try:
        if "fn" not in _COMPILED:
            _COMPILED["fn"] = torch.compile(additive_dense)
        return _COMPILED["fn"](qp, kp, w2b)
    except Exception as e:  # noqa: BLE001 - any compiler failure means: run eagerly
        _COMPILED["error"] = f"{type(e).__name__}: {e}"[:500]
        warnings.warn(f"torch.compile of the additive score failed ({type(e).__name__}); "
                      "using the eager chunked path instead", RuntimeWarning, stacklevel=3)
        return None
