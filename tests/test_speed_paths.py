"""The fast paths behind `make bench` agree with the reference formulas (never timed here).

- ``AdditiveScores`` (chunks, causal key skipping, tanh through sigmoid, backward as matrix
  products) against the write-up's formula, ``w2 . tanh(W1 [q; k])``, in float64: values,
  gradients and gradcheck, with broadcast leading dimensions and S != T.
- the same in float32 and in bf16 (what autocast gives on a GPU), within their precision.
- the ``torch.compile``-fused additive score against the eager one, and its fallback.
- the benchmark's "before" implementation against today's, so before/after compare equal maths.
- ``tune_cpu``: the opt-out, and an explicit thread count is never overridden.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minilib.attention import additive_fast as AF
from minilib.attention import scores as S
from minilib.attention import MultiHeadAttention, attention
from minilib.device import usable_cpus
from minilib.attention import causal_mask

ROOT = Path(__file__).resolve().parents[1]
D64 = dict(dtype=torch.float64)


def params(H, d, a, **kw):
    return dict(w_q=torch.randn(H, d, a, **kw), w_k=torch.randn(H, d, a, **kw), w2=torch.randn(H, a, **kw))


def visible(T, S_):
    return causal_mask(T, S_)


@pytest.mark.parametrize("T,S_", [(9, 9), (4, 9), (1, 6)])
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 9, None])
@pytest.mark.parametrize("causal", [False, True])
def test_chunked_sigmoid_scores_equal_reference(T, S_, chunk, causal):
    q, k = torch.randn(2, 3, T, 5, **D64), torch.randn(2, 3, S_, 5, **D64)
    w = params(3, 5, 4, **D64)
    ref = S.additive_scores_reference(q, k, **w)
    out = S.additive_scores(q, k, chunk=chunk, causal=causal, compile=False, **w)
    keep = visible(T, S_) if causal else torch.ones(T, S_, dtype=torch.bool)
    torch.testing.assert_close(out[..., keep], ref[..., keep], atol=1e-12, rtol=0)
    if causal and chunk == 1:                   # one query per chunk: every future key is skipped, left at 0
        assert torch.all(out[..., ~keep] == 0)


def test_broadcast_leading_dims_and_shared_weights():
    q = torch.randn(2, 3, 6, 5, **D64)
    k = torch.randn(1, 3, 6, 5, **D64)              # keys shared across the batch
    w = dict(w_q=torch.randn(5, 4, **D64), w_k=torch.randn(5, 4, **D64), w2=torch.randn(4, **D64))  # one set for all heads
    ref = S.additive_scores_reference(q, k.expand(2, 3, 6, 5), **w)
    torch.testing.assert_close(S.additive_scores(q, k, compile=False, **w), ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_equal_autograd_of_reference(causal):
    T, S_ = 5, 7
    q, k = torch.randn(2, 3, T, 4, **D64), torch.randn(2, 3, S_, 4, **D64)
    w = params(3, 4, 6, **D64)
    keep = visible(T, S_) if causal else torch.ones(T, S_, dtype=torch.bool)
    g = torch.randn(2, 3, T, S_, **D64).masked_fill(~keep, 0.0)
    grads = []
    for f in (lambda **kw: S.additive_scores(q, k, chunk=2, causal=causal, compile=False, **kw),
              lambda **kw: S.additive_scores_reference(q, k, **kw)):
        ins = [q.requires_grad_(), k.requires_grad_(), *(t.requires_grad_() for t in w.values())]
        out = f(**w)
        grads.append(torch.autograd.grad(out, ins, g))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-11)


@pytest.mark.parametrize("causal", [False, True])
def test_additive_function_gradcheck_broadcast(causal):
    qp = torch.randn(2, 3, 4, 5, **D64, requires_grad=True)
    kp = torch.randn(1, 3, 6, 5, **D64, requires_grad=True)       # S = 6 > T = 4: queries are the last 4
    w2 = torch.randn(3, 1, 1, 5, **D64, requires_grad=True)
    keep = visible(4, 6)

    def f(qp, kp, w2):
        s = AF.AdditiveScores.apply(qp, kp, w2, 3, causal)
        return s.masked_fill(~keep, 0.0) if causal else s
    assert torch.autograd.gradcheck(f, (qp, kp, w2))


def test_float32_matches_float64():
    q, k = torch.randn(4, 4, 50, 20, **D64), torch.randn(4, 4, 50, 20, **D64)
    w = {n: t / 4 for n, t in params(4, 20, 20, **D64).items()}
    ref = S.additive_scores_reference(q, k, **w)
    out = S.additive_scores(q.float(), k.float(), causal=False, compile=False, **{n: t.float() for n, t in w.items()})
    torch.testing.assert_close(out.double(), ref, atol=2e-5, rtol=1e-5)


def test_bf16_inputs_as_under_gpu_autocast():
    """bf16 qp/kp (what autocast hands the Function on a GPU): values within bf16 precision, grads finite, fp32 accumulation."""
    qp = torch.randn(2, 4, 30, 20, **D64)
    kp = torch.randn(2, 4, 30, 20, **D64)
    w2 = torch.randn(4, 1, 1, 20, **D64) / 4
    ref = (torch.tanh(qp[..., :, None, :] + kp[..., None, :, :]) * w2).sum(-1)
    x = [t.bfloat16().requires_grad_() for t in (qp, kp, w2)]
    out = AF.AdditiveScores.apply(*x, 7, True)
    keep = visible(30, 30)
    assert out.dtype == torch.bfloat16
    err = (out.double() - ref)[..., keep].abs().max().item()
    assert err < 0.05, err
    out.masked_fill(~keep, 0).float().sum().backward()
    for t in x:
        assert t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad).all()


def test_mha_additive_under_cpu_autocast_runs_and_is_close():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2, score="additive")
    x = torch.randn(2, 12, 16, requires_grad=True)
    y32 = mha(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = mha(x)
    torch.testing.assert_close(y16.float(), y32, atol=0.05, rtol=0.05)
    y16.float().sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gpu_chunks_are_bigger_but_equal_values():
    assert AF._chunk_rows(128, 100, 20, 100, "cuda") > AF._chunk_rows(128, 100, 20, 100, "cpu") >= 1
    assert AF._chunk_rows(10**9, 100, 20, 100, "cpu") == 1
    assert AF._chunk_rows(1, 1, 1, 7, "cpu") == 7


def test_attention_additive_causal_equals_reference_softmax():
    """The whole readable path with causal key skipping equals softmax over reference scores."""
    q, k, v = (torch.randn(2, 3, 8, 5, **D64) for _ in range(3))
    w = params(3, 5, 4, **D64)
    out = attention(q, k, v, score="additive", causal=True, **w)
    s = S.additive_scores_reference(q, k, **w).masked_fill(~causal_mask(8), float("-inf"))
    torch.testing.assert_close(out, torch.softmax(s, -1) @ v, atol=1e-12, rtol=0)


# ------------------------------------------------------------------------------ compile
def test_additive_dense_equals_reference():
    q, k = torch.randn(2, 3, 6, 5, **D64), torch.randn(2, 3, 6, 5, **D64)
    w = params(3, 5, 4, **D64)
    dense = AF.additive_dense(q @ w["w_q"], k @ w["w_k"], w["w2"][:, None, None, :])
    torch.testing.assert_close(dense, S.additive_scores_reference(q, k, **w), atol=1e-12, rtol=0)


def test_compile_is_off_by_default(monkeypatch):
    monkeypatch.delenv("MINILIB_COMPILE", raising=False)
    assert not AF.compile_additive()
    monkeypatch.setenv("MINILIB_COMPILE", "1")
    assert AF.compile_additive()


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(*a, **kw):
        raise RuntimeError("no C++ compiler here")
    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setattr(AF, "_COMPILED", {})
    q, k = torch.randn(1, 2, 5, 3, **D64), torch.randn(1, 2, 5, 3, **D64)
    w = params(2, 3, 4, **D64)
    with pytest.warns(RuntimeWarning, match="eager chunked path"):
        out = S.additive_scores(q, k, compile=True, **w)
    torch.testing.assert_close(out, S.additive_scores_reference(q, k, **w), atol=1e-12, rtol=0)
    assert "no C++ compiler" in AF._COMPILED["error"]


def test_compiled_additive_equals_eager(monkeypatch):
    """torch.compile's fused kernel gives the eager values and gradients (one compile, ~15-40 s cold)."""
    monkeypatch.setattr(AF, "_COMPILED", {})
    q, k = torch.randn(2, 2, 6, 3, **D64), torch.randn(2, 2, 6, 3, **D64)
    w = params(2, 3, 4, **D64)
    g = torch.randn(2, 2, 6, 6, **D64)
    res = []
    for comp in (True, False):
        ins = [t.clone().requires_grad_() for t in (q, k, *w.values())]
        out = S.additive_scores(ins[0], ins[1], w_q=ins[2], w_k=ins[3], w2=ins[4], compile=comp)
        res.append((out, torch.autograd.grad(out, ins, g)))
    if "error" in AF._COMPILED:
        pytest.skip(f"torch.compile unavailable here: {AF._COMPILED['error'][:200]}")
    torch.testing.assert_close(res[0][0], res[1][0], atol=1e-12, rtol=0)
    for a, b in zip(res[0][1], res[1][1]):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-11)


# ------------------------------------------------------------------ the benchmark's "before"
def test_benchmark_before_implementation_equals_minilib():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from legacy_additive import additive_scores_v0
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    q, k = torch.randn(2, 3, 7, 5, **D64), torch.randn(2, 3, 7, 5, **D64)
    w = params(3, 5, 4, **D64)
    keep = causal_mask(7)
    a = additive_scores_v0(q, k, causal=True, chunk=3, **w)
    b = S.additive_scores(q, k, causal=True, chunk=3, compile=False, **w)
    torch.testing.assert_close(a[..., keep], b[..., keep], atol=1e-12, rtol=0)


# ------------------------------------------------------------------------------ tune_cpu
def _probe(env_extra):
    code = ("import torch, json; from minilib.device import tune_cpu, cpu_tuning; "
            "d = tune_cpu(); print(json.dumps({'done': d, 'state': cpu_tuning(), 'threads': torch.get_num_threads()}))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MINILIB_CPU_TUNING")}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env | env_extra, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    import json
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_tune_cpu_opt_out_and_explicit_threads():
    off = _probe({"MINILIB_CPU_TUNING": "0"})
    assert off["done"] == {} and off["state"] == {"off": "MINILIB_CPU_TUNING=0"}
    one = _probe({"OMP_NUM_THREADS": "1"})
    assert one["threads"] == 1 and "threads" not in one["done"]       # an explicit choice is obeyed
    if sys.platform.startswith("linux"):
        assert one["done"].get("malloc") in ("kept freed memory in-process", "not glibc; unchanged")


def test_usable_cpus_is_sane():
    assert 1 <= usable_cpus() <= (os.cpu_count() or 1)
