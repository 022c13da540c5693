"""The fused additive-attention kernel (``minilib.attention.additive_triton``) against the formula.

The reference is the write-up's formula computed literally in float64
(``additive_scores_reference``: every pair ``[q_i; k_j]`` times ``W1``, then the masked softmax
and ``@ v``), differentiated by torch.autograd. The kernel's output and its gradients for
q, k, v, Wq, Wk and w2 must match it: causal and not, with key padding, with queries that may
see no key at all (zeros, zero and finite gradients), with S != T and with broadcast weights.

How the kernel runs without a GPU: Triton's interpreter (``TRITON_INTERPRET=1``) executes the
same kernel source on CPU tensors (float32 and bfloat16 here, 16 x 16 tiles). The variable must
be set before Triton is imported, and other tests import it (torch.compile), so one subprocess
(this file run as a script) computes every case and prints the errors as JSON; the tests below
read them. On a GPU machine ``make gpu-check`` runs this file with
``MINILIB_TRITON_TEST_DEVICE=cuda``: the same cases run compiled, plus the one-instruction
``tanh.approx`` in bfloat16 and a shape with several 64 x 64 tiles.

The tests of the dispatch in ``attention()`` run here in-process: on CPU tensors without the
interpreter it must fall back to the chunked path (same numbers), and never be chosen when it
would compute something else (dropout, a per-query mask, weights requested).
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DEVICE = os.environ.get("MINILIB_TRITON_TEST_DEVICE", "cpu")   # "cuda" under make gpu-check
GRADS = ("q", "k", "v", "w_q", "w_k", "w2")

# name: (B, H, T, S, d, d_a, dv, causal, padding, dtype, shared weights)
CASES = {
    "plain": (2, 2, 37, 37, 8, 6, 8, False, None, "float32", False),
    "causal": (2, 2, 37, 37, 8, 6, 8, True, None, "float32", False),
    "padding": (2, 2, 37, 37, 8, 6, 8, False, "right", "float32", False),
    "causal_left_padding": (2, 2, 37, 37, 8, 6, 8, True, "left", "float32", False),   # rows with no key
    "all_padding": (2, 1, 21, 21, 8, 5, 8, False, "all", "float32", False),           # a whole sequence
    "kv_cache": (2, 2, 5, 37, 8, 6, 8, True, None, "float32", False),                  # S > T
    "fewer_keys": (1, 2, 33, 18, 8, 6, 8, True, None, "float32", False),               # S < T: early rows see none
    "shared_weights": (2, 2, 20, 20, 8, 4, 20, True, "right", "float32", True),        # Wq [d, a], w2 [a]; dv = 20
    "bfloat16": (2, 2, 37, 37, 8, 6, 8, True, "left", "bfloat16", False),
}
GPU_CASES = {   # compiled only: several 64 x 64 tiles, the paper's head width, tanh.approx in bf16
    "gpu_tiles": (2, 2, 300, 300, 20, 20, 20, True, "left", "float32", False),
    "gpu_bf16_approx": (2, 2, 300, 300, 20, 20, 20, True, "left", "bfloat16", False),
}
TOL = {"float32": 2e-5, "bfloat16": 4e-2}     # max |error| / max |reference|, per tensor


def make_inputs(B, H, T, S, d, a, dv, causal, padding, dtype, shared, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    x = {"q": r(B, H, T, d), "k": r(B, H, S, d), "v": r(B, H, S, dv)}
    if shared:
        x |= {"w_q": r(d, a) / d ** 0.5, "w_k": r(d, a) / d ** 0.5, "w2": r(a)}
    else:
        x |= {"w_q": r(H, d, a) / d ** 0.5, "w_k": r(H, d, a) / d ** 0.5, "w2": r(H, a)}
    pad = torch.ones(B, S, dtype=torch.bool)
    if padding == "right":
        pad[-1, S - S // 3:] = False
    elif padding == "left":                 # with causal: the first rows of the last sequence see no key
        pad[-1, : S // 3] = False
    elif padding == "all":
        pad[-1] = False
    mask = None if padding is None else pad[:, None, None, :].to(device)
    return x, mask


def run_case(spec, device):
    """Max errors of the fused kernel against the float64 formula: {tensor: [abs, relative]}."""
    from minilib.attention import additive_triton as AT
    from minilib.attention import additive_scores_reference, causal_mask, combine, masked_softmax
    *shape, causal, padding, dtype, shared = spec
    x, mask = make_inputs(*shape, causal, padding, dtype, shared, device)
    dt = getattr(torch, dtype)
    x = {n: t.to(dt).double() for n, t in x.items()}      # both sides start from the same numbers
    T, S = shape[2], shape[3]
    # the reference: the literal formula in float64, differentiated by autograd
    ref_in = {n: t.clone().requires_grad_() for n, t in x.items()}
    full = combine(None if mask is None else mask.cpu(), causal_mask(T, S) if causal else None)
    w = {n: ref_in[n] for n in ("w_q", "w_k", "w2")}
    ref = masked_softmax(additive_scores_reference(ref_in["q"], ref_in["k"], **w), full) @ ref_in["v"]
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref_grads = torch.autograd.grad(ref, [ref_in[n] for n in GRADS], grad_out)
    # the kernel, in the case's dtype
    ins = {n: t.to(device, dt).requires_grad_() for n, t in x.items()}
    out = AT.attention(ins["q"], ins["k"], ins["v"], w_q=ins["w_q"], w_k=ins["w_k"], w2=ins["w2"],
                       mask=mask, causal=causal)
    grads = torch.autograd.grad(out, [ins[n] for n in GRADS], grad_out.to(device, dt))
    res = {}
    for name, got, want in [("out", out, ref), *zip(GRADS, grads, ref_grads)]:
        got, want = got.detach().double().cpu(), want.detach()
        err = (got - want).abs().max().item()
        res[name] = [err, err / max(want.abs().max().item(), 1e-30), bool(torch.isfinite(got).all())]
    blind = full is not None and not full.any(-1).all()             # some query may see no key
    if blind:
        rows = ~full.expand(ref.shape[:-1] + (S,)).any(-1)           # [B, H, T]
        res["blind_rows_zero"] = bool((out.detach().cpu()[rows] == 0).all()
                                      and (grads[0].cpu()[rows] == 0).all())       # and dL/dq there
    return res


def run_all(device):
    cases = CASES | (GPU_CASES if device == "cuda" else {})
    return {name: run_case(spec, device) for name, spec in cases.items()}


# ----------------------------------------------------------------------------- the tests
@pytest.fixture(scope="module")
def results():
    """Every case computed once, in a subprocess (the interpreter must be on before triton imports)."""
    pytest.importorskip("triton", reason="Triton is not installed (make unit installs it: "
                        "requirements-test.txt); the fused kernel is then never used")
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    if DEVICE == "cpu":
        env["TRITON_INTERPRET"] = "1"
    r = subprocess.run([sys.executable, __file__, DEVICE], capture_output=True, text=True, env=env,
                       timeout=600, cwd=ROOT)
    assert r.returncode == 0, f"the kernel cases failed to run:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


ALL = list(CASES) + (list(GPU_CASES) if DEVICE == "cuda" else [])


@pytest.mark.parametrize("case", ALL)
def test_output_and_gradients_match_float64_formula(results, case):
    res, tol = results[case], TOL[(CASES | GPU_CASES)[case][-2]]
    bad = {n: f"{e[1]:.1e}" for n, e in res.items() if isinstance(e, list) and e[1] > tol}
    assert not bad, f"{case}: relative errors above {tol}: {bad} (all: {res})"
    assert all(e[2] for e in res.values() if isinstance(e, list)), f"{case}: non-finite values {res}"


@pytest.mark.parametrize("case", [c for c in ALL if (CASES | GPU_CASES)[c][8] in ("left", "all")
                                  or (CASES | GPU_CASES)[c][3] < (CASES | GPU_CASES)[c][2]])
def test_queries_that_see_no_key_give_exact_zeros(results, case):
    """Their output rows and their queries' gradients are exactly 0 (finite: checked above)."""
    assert results[case].get("blind_rows_zero") is True, results[case]


# ----------------------------------------------------------------------------- dispatch, in-process
def _additive(B=2, H=2, T=12, d=8, a=6, **kw):
    x, mask = make_inputs(B, H, T, T, d, a, d, True, "left", "float32", False, "cpu")
    return {n: t.float() for n, t in x.items()}, mask


def test_cpu_falls_back_to_the_chunked_path(monkeypatch):
    """Without a GPU (and without the interpreter) attention() uses the chunked path: same numbers."""
    from minilib.attention import additive_triton as AT
    from minilib.attention import attention
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    x, mask = _additive()
    w = {n: x[n] for n in ("w_q", "w_k", "w2")}
    assert not AT.supports(x["q"], x["k"], x["v"], mask, **w)
    called = []
    monkeypatch.setattr(AT, "attention", lambda *a, **k: called.append(1))
    fast = attention(x["q"], x["k"], x["v"], score="additive", mask=mask, causal=True, **w)
    slow = attention(x["q"], x["k"], x["v"], score="additive", mask=mask, causal=True, fast=False, **w)
    assert not called
    torch.testing.assert_close(fast, slow, rtol=0, atol=0)


@pytest.mark.parametrize("why", ["dropout", "per_query_mask", "switched_off", "dot_score"])
def test_dispatch_only_where_the_maths_is_the_same(monkeypatch, why):
    """supports() says no where the kernel would compute something else (the interpreter is faked on)."""
    from minilib.attention import additive_triton as AT
    pytest.importorskip("triton", reason="Triton is not installed: supports() is always False then")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    x, mask = _additive()
    w = {n: x[n] for n in ("w_q", "w_k", "w2")}
    assert AT.supports(x["q"], x["k"], x["v"], mask, **w)          # the plain case is taken
    kw = dict(mask=mask, **w)
    if why == "dropout":
        kw["dropout_p"] = 0.1
    elif why == "per_query_mask":
        kw["mask"] = torch.ones(12, 12, dtype=torch.bool)            # [T, S]: not a padding mask
    elif why == "switched_off":
        monkeypatch.setenv("MINILIB_TRITON", "0")
    else:
        kw = dict(mask=mask, scale=0.5)
    assert not AT.supports(x["q"], x["k"], x["v"], **kw)


@pytest.mark.parametrize("kernel,dtype", [("forward", "bf16"), ("backward", "bf16"),
                                          ("forward", "fp32"), ("backward", "fp32")])
def test_kernels_compile_for_hopper_without_spilling(kernel, dtype):
    """No GPU needed to compile: Triton lowers the kernels to PTX for sm_90a (H100/H200) and its
    bundled ptxas assembles them. This catches what the interpreter cannot see (the inline
    ``tanh.approx`` assembly, layouts, register pressure) with the tile sizes the GPU uses."""
    triton = pytest.importorskip("triton", reason="Triton is not installed")
    from minilib.attention import additive_triton as AT
    if os.environ.get("TRITON_INTERPRET") == "1":
        pytest.skip("TRITON_INTERPRET=1 in this process: the kernels are interpreted, not compiled")
    fn = getattr(AT, f"_{kernel}_kernel")
    if not hasattr(fn, "arg_names") or not hasattr(triton.compiler, "ASTSource"):
        pytest.skip("this Triton's offline compile API differs from 3.6-3.7's")
    from triton.backends.compiler import GPUTarget
    dt = torch.float32 if dtype == "fp32" else torch.bfloat16
    blk = AT._blocks(dt, True, 64, 64, backward=kernel == "backward")     # the GPU's tiles, d = d_a = 64
    warps = blk.pop("num_warps")
    if kernel == "forward":
        blk.pop("BLOCK_A")
    consts = blk | dict(HAS_MASK=True, CAUSAL=True, APPROX=dtype == "bf16", DOT="ieee" if dtype == "fp32" else "tf32",
                        MM=triton.language.float32 if dtype == "fp32" else triton.language.bfloat16)
    ptrs = {"KMASK": "*i8"} | {n: "*fp32" for n in ("W2", "LSE", "DELTA", "DQP", "DKP", "DV", "DW2")}
    sig = {n: "constexpr" if n in consts else "i32" if n in ("T", "S", "A", "D") else ptrs.get(n, f"*{dtype}")
           for n in fn.arg_names}
    k = triton.compile(triton.compiler.ASTSource(fn=fn, signature=sig, constexprs=consts),
                       target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
    ptx = k.asm["ptx"]
    assert ("tanh.approx.f32" in ptx) == (dtype == "bf16")          # one SFU instruction, or exp + rcp
    ptxas = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    if not ptxas.exists():
        pytest.skip(f"no ptxas at {ptxas}: cannot count registers")
    src = Path(os.environ.get("TMPDIR", "/tmp")) / f"additive_{kernel}_{dtype}_{os.getpid()}.ptx"
    src.write_text(ptx)
    r = subprocess.run([str(ptxas), "-arch=sm_90a", "-v", str(src), "-o", os.devnull], capture_output=True, text=True)
    src.unlink()
    info = r.stdout + r.stderr
    assert r.returncode == 0, info
    spill = int(re.search(r"(\d+) bytes spill stores", info).group(1))
    assert spill <= 64, f"{kernel} {dtype} spills {spill} bytes per thread to local memory:\n{info}"


def test_roofline_arithmetic():
    """tanh counts and the special-function-unit peak, on numbers small enough to count by hand."""
    from minilib.attention.additive_triton import sfu_peak_tanh_per_s, tanh_count
    assert tanh_count(4, 4, 3, causal=False) == 4 * 4 * 3
    assert tanh_count(4, 4, 3, causal=True) == (1 + 2 + 3 + 4) * 3
    assert tanh_count(2, 4, 1, causal=True) == 3 + 4                 # queries are the last 2 of 4
    assert tanh_count(4, 2, 1, causal=True) == 0 + 0 + 1 + 2         # S < T: two rows see nothing
    assert tanh_count(4, 4, 3, causal=True, backward=True) == 3 * (1 + 2 + 3 + 4) * 3
    assert sfu_peak_tanh_per_s(132, 1.98e9) == pytest.approx(4.18e12, rel=1e-3)   # an H100/H200 SXM


if __name__ == "__main__":           # the subprocess: compute every case, print JSON on the last line
    sys.path.insert(0, str(ROOT))
    torch.manual_seed(0)
    print(json.dumps(run_all(sys.argv[1] if len(sys.argv) > 1 else "cpu")))
