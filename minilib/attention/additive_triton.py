"""Additive attention as one fused GPU kernel (Triton): ``softmax(w2 . tanh(qp_i + kp_j)) V``.

``attention(score="additive")`` calls ``attention`` below on CUDA tensors when Triton is
installed (``supports`` says when); elsewhere the chunked eager path (``additive_fast``)
computes the same numbers. The formula is in ``scores``; this module is how a GPU computes
it without ever holding a ``T x S`` or ``T x S x d_a`` tensor.

How it works, for a learner (FlashAttention's two ideas, applied to an additive score):

- **Tiles and an online softmax.** One program owns a block of ``BLOCK_M`` queries and walks
  over the keys ``BLOCK_N`` at a time. For each tile it builds the ``[BLOCK_M, BLOCK_N]``
  scores in registers, one ``d_a`` column at a time (``s += w2[a] * tanh(qp[:, a] + kp[:, a]^T)``).
  It keeps, per query row, the largest score seen so far ``m``, the sum ``l`` of
  ``exp(s - m)`` and the sum ``acc`` of ``exp(s - m) v``. When a later tile raises the max
  to ``m'``, the old sums are rescaled by ``exp(m - m')``: the softmax normaliser is built
  as the keys stream past and the weights never exist as a whole. At the end
  ``out = acc / l``; the kernel also saves ``lse = m + log l`` (the log of the softmax
  denominator), one number per query.
- **Backward by recomputation.** Instead of storing the weights, the backward kernel
  recomputes each tile's scores and gets the weights back exactly as ``p = exp(s - lse)``.
  From ``dO`` it forms ``dp = dO V^T``, the softmax gradient ``ds = p (dp - delta)`` with
  ``delta_i = dO_i . O_i``, and then walks the ``d_a`` columns a second time:
  ``t = tanh(qp_ia + kp_ja)``, ``ds * (1 - t^2)`` summed over keys gives ``dqp[:, a]``,
  summed over queries ``dkp[:, a]``, and ``sum(ds * t)`` gives ``dw2[a]``. So a training
  step evaluates ``3 d_a`` tanh per (query, key) pair and stores only ``O(T d)`` numbers.

Masks: ``causal`` (tiles above the diagonal are skipped) and a key-padding mask
(``[..., 1, S]``); a query that may see no key gets zeros and zero gradients.
Under ``TRITON_INTERPRET=1`` (Triton's interpreter) the same kernels run on CPU tensors:
that is how ``tests/test_additive_triton.py`` checks them without a GPU.
"""
from __future__ import annotations   # the kernels' ``tl.constexpr`` annotations stay strings

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:                  # a laptop without Triton: the chunked path is used instead
    triton = tl = None

_jit = triton.jit if triton is not None else (lambda fn: fn)
DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def interpreting() -> bool:
    """Triton's interpreter is on (``TRITON_INTERPRET=1``): kernels run on CPU tensors, slowly."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def enabled() -> bool:
    """The fused kernel may be used: Triton is importable and ``MINILIB_TRITON`` is not ``0``."""
    off = os.environ.get("MINILIB_TRITON", "1").strip().lower() in ("0", "false", "no", "off")
    return triton is not None and not off


def supports(q, k, v, mask=None, dropout_p=0.0, **score_params) -> bool:
    """Whether ``attention()`` may hand this additive case to the fused kernel (same maths, no copy)."""
    if not enabled() or set(score_params) != {"w_q", "w_k", "w2"} or dropout_p > 0:
        return False
    tensors = (q, k, v, *score_params.values(), *([] if mask is None else [mask]))
    on_device = all(t.is_cuda for t in tensors) or (interpreting() and not any(t.is_cuda for t in tensors))
    key_mask_only = mask is None or mask.shape[-2] == 1            # [..., 1, S]: a padding mask
    return on_device and key_mask_only and q.dtype in DTYPES and v.shape[-1] <= 256


# ----------------------------------------------------------------------------- the kernels
@_jit
def _tanh(x, APPROX: tl.constexpr):
    if APPROX:   # one special-function-unit instruction (MUFU.TANH), max rel. error ~2^-11
        return tl.inline_asm_elementwise("tanh.approx.f32 $0, $1;", "=f,f", [x],
                                         dtype=tl.float32, is_pure=True, pack=1)
    else:        # tanh(x) = 2 sigmoid(2x) - 1: one exp and one reciprocal, float32-accurate
        return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@_jit
def _scores(qp_col, kp_col, w2_row, rows, cols, T, S, A,
            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, APPROX: tl.constexpr):
    """s[i, j] = sum_a w2[a] tanh(qp[i, a] + kp[j, a]) for one [BLOCK_M, BLOCK_N] tile.

    ``qp_col + a*T`` points at column a of qp for the tile's rows (qp is stored [A, T]).
    """
    s = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
    for a in range(0, A):
        qa = tl.load(qp_col + a * T, mask=rows < T, other=0.0).to(tl.float32)   # [M]
        ka = tl.load(kp_col + a * S, mask=cols < S, other=0.0).to(tl.float32)   # [N]
        s += tl.load(w2_row + a) * _tanh(qa[:, None] + ka[None, :], APPROX)     # [M, N]
    return s


@_jit
def _visible(rows, cols, kmask_row, T, S, HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr):
    """[M, N] bool: query i may attend to key j (in range, not padding, not in the future)."""
    ok = (rows[:, None] < T) & (cols[None, :] < S)
    if HAS_MASK:
        ok &= (tl.load(kmask_row + cols, mask=cols < S, other=0) != 0)[None, :]
    if CAUSAL:   # with S > T the queries are the last T positions
        ok &= cols[None, :] <= rows[:, None] + (S - T)
    return ok


@_jit
def _forward_kernel(QP, KP, W2, V, KMASK, OUT, LSE, T, S, A, D,
                    HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr, APPROX: tl.constexpr,
                    MM: tl.constexpr, DOT: tl.constexpr, BLOCK_M: tl.constexpr,
                    BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    # QP [N, A, T]  KP [N, A, S]  W2 [N, A] fp32  V [N, S, D]  KMASK [N, S]  OUT [N, T, D]  LSE [N, T]
    pid_m = tl.num_programs(0) - 1 - tl.program_id(0)       # longest (causal) rows start first
    n = tl.program_id(1).to(tl.int64)                        # which (batch, head)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)           # [M] query indices
    dcol = tl.arange(0, BLOCK_D)                             # [D] value columns
    qp_col, w2_row, kmask_row = QP + n * A * T + rows, W2 + n * A, KMASK + n * S

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)   # running row max of s
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)                 # running sum of exp(s - m)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)        # running sum of exp(s - m) v
    hi = S
    if CAUSAL:                                                  # keys after the last row's: skipped
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M + S - T)
    for j0 in range(0, hi, BLOCK_N):
        cols = j0 + tl.arange(0, BLOCK_N)                                            # [N]
        s = _scores(qp_col, KP + n * A * S + cols, w2_row, rows, cols, T, S, A,
                    BLOCK_M, BLOCK_N, APPROX)                                        # [M, N]
        s = tl.where(_visible(rows, cols, kmask_row, T, S, HAS_MASK, CAUSAL), s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))                                        # [M]
        m_ref = tl.where(m_new == float("-inf"), 0.0, m_new)     # a row that has seen no key yet
        alpha = tl.exp(m_i - m_ref)                              # rescales the old sums
        p = tl.exp(s - m_ref[:, None])                           # [M, N], 0 where masked
        v = tl.load(V + n * S * D + cols[:, None] * D + dcol[None, :],
                    mask=(cols[:, None] < S) & (dcol[None, :] < D), other=0.0)       # [N, D]
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = acc * alpha[:, None] + tl.dot(p.to(MM), v.to(MM), input_precision=DOT)  # [M, D]
        m_i = m_new
    seen = l_i > 0                                               # False: the row may see no key
    out = acc / tl.where(seen, l_i, 1.0)[:, None]                # such a row stays 0
    tl.store(OUT + n * T * D + rows[:, None] * D + dcol[None, :], out.to(OUT.dtype.element_ty),
             mask=(rows[:, None] < T) & (dcol[None, :] < D))
    lse = tl.where(seen, m_i + tl.log(tl.where(seen, l_i, 1.0)), float("inf"))     # +inf: p = 0
    tl.store(LSE + n * T + rows, lse, mask=rows < T)


@_jit
def _backward_kernel(QP, KP, W2, V, KMASK, DO, LSE, DELTA, DQP, DKP, DV, DW2, T, S, A, D,
                     HAS_MASK: tl.constexpr, CAUSAL: tl.constexpr, APPROX: tl.constexpr,
                     MM: tl.constexpr, DOT: tl.constexpr, BLOCK_M: tl.constexpr,
                     BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_A: tl.constexpr):
    # One program per block of keys; it walks the query blocks that can see them.
    # DQP [N, A, T], DKP [N, A, S] fp32 (atomic sums)  DV [N, S, D] fp32  DW2 [N, n_key_blocks, BLOCK_A]
    pid_n = tl.program_id(0)
    n = tl.program_id(1).to(tl.int64)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)           # [N] key indices
    dcol = tl.arange(0, BLOCK_D)
    acol = tl.arange(0, BLOCK_A)
    kp_col, w2_row, kmask_row = KP + n * A * S + cols, W2 + n * A, KMASK + n * S
    v = tl.load(V + n * S * D + cols[:, None] * D + dcol[None, :],
                mask=(cols[:, None] < S) & (dcol[None, :] < D), other=0.0).to(MM)  # [N, D]
    dv = tl.zeros([BLOCK_N, BLOCK_D], dtype=tl.float32)
    dw2 = tl.zeros([BLOCK_A], dtype=tl.float32)
    lo = 0
    if CAUSAL:                             # the first query that sees key j is j - (S - T)
        lo = tl.maximum(0, pid_n * BLOCK_N - (S - T)) // BLOCK_M * BLOCK_M
    for i0 in range(lo, T, BLOCK_M):
        rows = i0 + tl.arange(0, BLOCK_M)                                            # [M]
        qp_col = QP + n * A * T + rows
        s = _scores(qp_col, kp_col, w2_row, rows, cols, T, S, A, BLOCK_M, BLOCK_N, APPROX)
        s = tl.where(_visible(rows, cols, kmask_row, T, S, HAS_MASK, CAUSAL), s, float("-inf"))
        lse = tl.load(LSE + n * T + rows, mask=rows < T, other=float("inf"))        # [M]
        p = tl.exp(s - lse[:, None])                             # [M, N]: the forward's weights
        do = tl.load(DO + n * T * D + rows[:, None] * D + dcol[None, :],
                     mask=(rows[:, None] < T) & (dcol[None, :] < D), other=0.0).to(MM)  # [M, D]
        dv += tl.dot(tl.trans(p.to(MM)), do, input_precision=DOT)                 # [N, D]
        dp = tl.dot(do, tl.trans(v), input_precision=DOT)                          # [M, N]
        delta = tl.load(DELTA + n * T + rows, mask=rows < T, other=0.0)            # [M]
        ds = p * (dp - delta[:, None])                           # dL/ds, softmax backward
        for a in range(0, A):                                    # second walk over the columns
            qa = tl.load(qp_col + a * T, mask=rows < T, other=0.0).to(tl.float32)
            ka = tl.load(kp_col + a * S, mask=cols < S, other=0.0).to(tl.float32)
            wa = tl.load(w2_row + a)
            t = _tanh(qa[:, None] + ka[None, :], APPROX)        # [M, N], recomputed
            g = ds * (1.0 - t * t)                               # dL/d(qp_ia + kp_ja) / w2_a
            tl.atomic_add(DQP + n * A * T + a * T + rows, wa * tl.sum(g, 1), mask=rows < T,
                          sem="relaxed")
            tl.atomic_add(DKP + n * A * S + a * S + cols, wa * tl.sum(g, 0), mask=cols < S,
                          sem="relaxed")
            dw2 += tl.where(acol == a, tl.sum(ds * t), 0.0)     # into slot a of a small vector
    tl.store(DV + n * S * D + cols[:, None] * D + dcol[None, :], dv,
             mask=(cols[:, None] < S) & (dcol[None, :] < D))
    tl.store(DW2 + (n * tl.num_programs(0) + pid_n) * BLOCK_A + acol, dw2, mask=acol < A)


# ----------------------------------------------------------------------------- launching them
def _blocks(dtype, gpu: bool, D: int, A: int, backward: bool = False) -> dict:
    """Tile sizes and warps. On a GPU: 64 x 64 tiles, 8 warps (32 query rows in a float32
    backward), chosen so that no register spills when compiled for Hopper (sm_90a, checked
    with ptxas -v) and no tile element is computed twice. In the interpreter: 16 x 16."""
    m = n = 64 if gpu else 16
    if gpu and backward and dtype == torch.float32:
        m = 32
    return dict(BLOCK_M=m, BLOCK_N=n, BLOCK_D=max(16, triton.next_power_of_2(D)),
                BLOCK_A=max(16, triton.next_power_of_2(A)), num_warps=8)


def _matmul_dtype(x: torch.Tensor):
    """What P and V (dO) are rounded to for the two small matrix products: the input's dtype
    (bf16/fp16 on tensor cores), except in the interpreter, which cannot multiply bfloat16
    matrices (numpy has no bfloat16): there they are multiplied in float32."""
    if x.dtype == torch.bfloat16 and not x.is_cuda:
        return tl.float32
    return {torch.float32: tl.float32, torch.bfloat16: tl.bfloat16, torch.float16: tl.float16}[x.dtype]


class FusedAdditiveAttention(torch.autograd.Function):
    """``softmax(w2 . tanh(qp_i + kp_j)) v`` on flat inputs: qp [N, T, A], kp [N, S, A],
    w2 [N, A], v [N, S, D], key_mask [N, S] (bool, True = may attend) or None. Returns [N, T, D]."""

    @staticmethod
    def forward(ctx, qp, kp, w2, v, key_mask, causal, approx):
        N, T, A = qp.shape
        S, D = kp.shape[1], v.shape[2]
        qpT = qp.transpose(1, 2).contiguous()          # [N, A, T]: each column of qp is contiguous
        kpT = kp.to(qp.dtype).transpose(1, 2).contiguous()              # [N, A, S]
        w2f = w2.float().contiguous()                                    # [N, A]
        v = v.to(qp.dtype).contiguous()                                  # [N, S, D]
        km = (key_mask.to(torch.int8) if key_mask is not None else torch.ones(1, dtype=torch.int8,
                                                                              device=qp.device)).contiguous()
        out = torch.empty(N, T, D, dtype=qp.dtype, device=qp.device)
        lse = torch.empty(N, T, dtype=torch.float32, device=qp.device)
        blk = _blocks(qp.dtype, qp.is_cuda, D, A)
        meta = dict(HAS_MASK=key_mask is not None, CAUSAL=bool(causal), APPROX=bool(approx),
                    MM=_matmul_dtype(qp), DOT="ieee" if qp.dtype == torch.float32 else "tf32")
        grid = (triton.cdiv(T, blk["BLOCK_M"]), N)
        _forward_kernel[grid](qpT, kpT, w2f, v, km, out, lse, T, S, A, D, **meta,
                              BLOCK_M=blk["BLOCK_M"], BLOCK_N=blk["BLOCK_N"], BLOCK_D=blk["BLOCK_D"],
                              num_warps=blk["num_warps"])
        ctx.save_for_backward(qpT, kpT, w2f, v, km, out, lse)
        ctx.meta, ctx.dtypes = meta, (qp.dtype, kp.dtype, w2.dtype, v.dtype)
        return out

    @staticmethod
    def backward(ctx, do):
        qpT, kpT, w2f, v, km, out, lse = ctx.saved_tensors
        N, A, T = qpT.shape
        S, D = kpT.shape[2], v.shape[2]
        blk = _blocks(qpT.dtype, qpT.is_cuda, D, A, backward=True)
        do = do.to(out.dtype).contiguous()
        delta = (do.float() * out.float()).sum(-1)                       # [N, T]: dO_i . O_i
        dqpT = torch.zeros(N, A, T, dtype=torch.float32, device=do.device)
        dkpT = torch.zeros(N, A, S, dtype=torch.float32, device=do.device)
        dv = torch.empty(N, S, D, dtype=torch.float32, device=do.device)
        n_key_blocks = triton.cdiv(S, blk["BLOCK_N"])
        dw2 = torch.empty(N, n_key_blocks, blk["BLOCK_A"], dtype=torch.float32, device=do.device)
        _backward_kernel[(n_key_blocks, N)](qpT, kpT, w2f, v, km, do, lse, delta, dqpT, dkpT, dv, dw2,
                                            T, S, A, D, **ctx.meta, **blk)
        tq, tk, tw, tv = ctx.dtypes
        return (dqpT.transpose(1, 2).to(tq), dkpT.transpose(1, 2).to(tk),
                dw2[..., :A].sum(1).to(tw), dv.to(tv), None, None, None)


def attention(q, k, v, *, w_q, w_k, w2, mask=None, causal=False, approx_tanh=None):
    """``attention(q, k, v, score="additive", ...)`` computed by the fused kernel.

    q [..., T, d], k [..., S, d], v [..., S, dv]; w_q, w_k [d, a] or per head [H, d, a];
    w2 [a] or [H, a]; mask: bool ``[..., 1, S]`` (True = may attend), e.g. a key-padding mask.
    approx_tanh: the special-function unit's one-instruction tanh (``None``: on a GPU for
    bfloat16/float16 inputs, whose rounding is coarser than its error; never in the interpreter).
    The projections ``q @ w_q`` and ``k @ w_k`` are matrix products outside the kernel (autograd
    differentiates them); everything with a pair index (i, j) happens inside.
    """
    if triton is None:
        raise RuntimeError("the fused additive kernel needs Triton (pip install triton); "
                           "attention(score='additive') falls back to the chunked path without it")
    qp, kp = q @ w_q, k @ w_k                                      # [..., T, a], [..., S, a]
    T, S, A, D = qp.shape[-2], kp.shape[-2], qp.shape[-1], v.shape[-1]
    shapes = [qp.shape[:-2], kp.shape[:-2], v.shape[:-2], w2.shape[:-1]]
    if mask is not None:
        shapes.append(mask.shape[:-2])
    lead = torch.broadcast_shapes(*shapes)
    flat = lambda t, *tail: t.expand(*lead, *tail).reshape(-1, *tail)  # noqa: E731
    key_mask = None if mask is None else flat(mask[..., 0, :], S)
    if approx_tanh is None:
        approx_tanh = qp.is_cuda and qp.dtype != torch.float32
    out = FusedAdditiveAttention.apply(flat(qp, T, A), flat(kp, S, A), flat(w2, A), flat(v, S, D),
                                       key_mask, causal, approx_tanh and qp.is_cuda)
    return out.view(*lead, T, D)


def tanh_count(T: int, S: int, d_a: int, causal: bool, backward: bool = False) -> int:
    """tanh evaluations per (batch, head) that the kernel's *visible* pairs need: ``d_a`` per
    pair forward, ``3 d_a`` forward + backward (the backward recomputes the scores, then ``t``)."""
    pairs = sum(min(S, i + 1 + S - T) for i in range(T) if i + 1 + S - T > 0) if causal else T * S
    return pairs * d_a * (3 if backward else 1)


def sfu_peak_tanh_per_s(sm_count: int, clock_hz: float, per_sm_per_clock: int = 16) -> float:
    """The special-function units' ceiling: ``SMs x 16 x clock`` (Hopper: 16 MUFU results per
    clock per SM, NVIDIA's CUDA programming guide, arithmetic-instruction throughput table)."""
    return float(sm_count) * per_sm_per_clock * clock_hz


