"""``make gpu-check``: the fused additive-attention kernel on a GPU, in one run of at most 8 minutes.

    python3 benchmarks/gpu_check.py [--out PATH] [--budget 450] [--only tests,bench,experiment]
    python3 benchmarks/gpu_check.py --dry-run     # every code path on the CPU: Triton's interpreter, tiny shapes

Sections, in order; the JSON is rewritten after each, so a run cut short keeps what it measured:

1. ``tests``       ``tests/test_additive_triton.py`` compiled for the GPU (``MINILIB_TRITON_TEST_DEVICE=cuda``):
                   output and gradients against the float64 formula, bf16 with the one-instruction tanh.
2. ``roofline``    the chip's special-function-unit ceiling, ``SMs x 16 x SM clock`` tanh per second:
                   the SM count from ``torch.cuda.get_device_properties``, the maximum SM clock from the
                   driver (Triton's device properties, else ``nvidia-smi --query-gpu=clocks.max.sm``),
                   and 16 results per clock per SM for the MUFU unit (NVIDIA's CUDA C++ Programming
                   Guide, "Arithmetic Instructions" throughput table, compute capability 7.x-9.0).
3. ``kernel``      fused (``additive_triton``) vs chunked eager (``attention(..., fast=False)``) vs SDPA
                   (dot-product, for scale), causal, B=4, H=8, d_head=64, T in {256, 1k, 4k, 8k},
                   d_a in {32, 64}, float32 / bfloat16, forward and forward+backward: median time (CUDA
                   events), peak memory above the inputs, and for the fused kernel the tanh per second
                   over the visible pairs (``additive_triton.tanh_count``: d_a per pair forward, 3 d_a
                   forward+backward) as a fraction of the roofline. In float32 the kernel uses the
                   accurate tanh (exp + reciprocal: two MUFU operations, so at most 50% of this roofline);
                   in bfloat16 ``tanh.approx.f32`` (one).
4. ``experiment``  the paper-scale experiment 1, dot and additive, end to end (``minilib.experiments.run``),
                   with the number of calls that went to the fused kernel.

Results: ``benchmarks/results/bench_cuda.json`` (``--dry-run``: ``/tmp/bench_cuda_dryrun.json``) with
``minilib.provenance.provenance``. A plain script: it asserts nothing about speed; it exits with an
error at once on a machine without CUDA (unless ``--dry-run``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

DRY = "--dry-run" in sys.argv
if DRY:                                       # must be set before Triton is imported (minilib imports it)
    os.environ["TRITON_INTERPRET"] = "1"

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

try:
    import torch  # noqa: E402
except ImportError:
    sys.exit(f"gpu_check: {sys.executable} has no PyTorch; run it with the Python that has it "
             "(make gpu-check GPU_PYTHON=.venv/bin/python, or the GPU machine's python3)")

from minilib.attention import additive_triton as AT  # noqa: E402
from minilib.attention import attention  # noqa: E402
from minilib.files import write_atomic  # noqa: E402
from minilib.provenance import provenance  # noqa: E402

FULL = dict(B=4, H=8, d=64, Ts=(256, 1024, 4096, 8192), d_as=(32, 64), rounds=10, budget_s=0.4)
TINY = dict(B=1, H=2, d=16, Ts=(32, 48), d_as=(8,), rounds=2, budget_s=0.0)
DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}    # bf16 first: what training uses
WRITEUP = {"dot": 3 * 60 + 35, "additive": 20 * 60 + 29}   # seed 002, Table 1: 3:35 and 20:29


class Clock:
    """Seconds left of the run's budget; sections skip what no longer fits."""

    def __init__(self, budget):
        self.t0, self.budget = time.perf_counter(), budget

    def left(self):
        return self.budget - (time.perf_counter() - self.t0)


# ----------------------------------------------------------------------------- 1. tests
def section_tests(device, clock):
    env = dict(os.environ, MINILIB_TRITON_TEST_DEVICE=device.type, MINILIB_SCALE="smoke")
    env.pop("TRITON_INTERPRET", None)            # the test file turns it on where it needs it
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_additive_triton.py"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=max(60, min(300, clock.left())))
    tail = (r.stdout + r.stderr).strip().splitlines()
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", tail[-1] if tail else "")}
    print(f"tests: {tail[-1] if tail else 'no output'}", flush=True)
    return {"returncode": r.returncode, "counts": counts, "seconds": round(time.perf_counter() - t0, 1),
            "tail": "\n".join(tail[-40:])}


# ----------------------------------------------------------------------------- 2. roofline
def sm_clock_mhz(device):
    """The maximum SM clock in MHz and where it was read."""
    props = torch.cuda.get_device_properties(device)
    if getattr(props, "clock_rate", 0):
        return props.clock_rate / 1000, "torch.cuda.get_device_properties().clock_rate"
    try:
        import triton
        p = triton.runtime.driver.active.utils.get_device_properties(device.index or 0)
        if p.get("sm_clock_rate"):
            return p["sm_clock_rate"] / 1000, "Triton driver: cudaDevAttrClockRate"
    except Exception:  # noqa: BLE001 - try the next source
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.max.sm", "--format=csv,noheader,nounits",
                              f"--id={device.index or 0}"], capture_output=True, text=True, timeout=30)
        return float(out.stdout.split()[0]), "nvidia-smi clocks.max.sm"
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return 1980.0, "ASSUMED: no source answered; 1980 MHz is the H100/H200 SXM maximum"


def section_roofline(device):
    if device.type != "cuda":                # dry run: an H200's published numbers, to exercise the code
        sms, mhz, src, name = 132, 1980.0, "dry run: H200 values, not measured", "dry run"
    else:
        props = torch.cuda.get_device_properties(device)
        sms, name = props.multi_processor_count, props.name
        mhz, src = sm_clock_mhz(device)
    peak = AT.sfu_peak_tanh_per_s(sms, mhz * 1e6)
    print(f"roofline: {name}: {sms} SMs x 16 x {mhz:.0f} MHz = {peak / 1e12:.2f} x 10^12 tanh/s ({src})", flush=True)
    return {"device_name": name, "sm_count": sms, "sm_clock_mhz": mhz, "clock_source": src,
            "sfu_per_sm_per_clock": 16, "peak_tanh_per_s": peak,
            "formula": "sm_count x 16 x sm_clock (MUFU results per clock per SM, CUDA programming guide)"}


# ----------------------------------------------------------------------------- 3. kernel benchmark
def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, rounds, budget_s):
    """Median and minimum of ``fn``'s time in ms after one warm-up call (which also compiles)."""
    fn()
    sync(device)
    times, t_end = [], time.perf_counter() + budget_s
    while len(times) < 3 or (len(times) < rounds and time.perf_counter() < t_end):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), min(times), len(times)


def peak_mb(fn, device):
    """Memory the call needs above what was allocated before it, in MB (CUDA allocator); None on CPU."""
    if device.type != "cuda":
        return None
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    fn()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def inputs(B, H, T, d, d_a, dtype, device, seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    r = lambda *s, scale=1.0: (torch.randn(*s, generator=g, device=device) * scale).to(dtype)  # noqa: E731
    x = {"q": r(B, H, T, d), "k": r(B, H, T, d), "v": r(B, H, T, d),
         "w_q": r(H, d, d_a, scale=d ** -0.5), "w_k": r(H, d, d_a, scale=d ** -0.5), "w2": r(H, d_a, scale=d_a ** -0.5)}
    return {n: t.requires_grad_() for n, t in x.items()}


IMPLS = {   # name -> f(x) -> out, the same causal attention three ways (the slowest last)
    "fused": lambda x: AT.attention(x["q"], x["k"], x["v"], w_q=x["w_q"], w_k=x["w_k"], w2=x["w2"], causal=True),
    "sdpa": lambda x: attention(x["q"], x["k"], x["v"], causal=True),
    "chunked": lambda x: attention(x["q"], x["k"], x["v"], score="additive", causal=True, fast=False,
                                   w_q=x["w_q"], w_k=x["w_k"], w2=x["w2"]),
}


def step_fn(impl, x, mode):
    f = IMPLS[impl]
    if mode == "fwd":
        def step():
            with torch.no_grad():
                f(x)
        return step
    ins = [x[n] for n in ("q", "k", "v")] + ([] if impl == "sdpa" else [x[n] for n in ("w_q", "w_k", "w2")])

    def step():
        out = f(x)
        torch.autograd.grad(out, ins, torch.ones_like(out))
    return step


def section_kernel(device, shapes, roofline, clock, out):
    rows = out.setdefault("rows", [])
    B, H, d = shapes["B"], shapes["H"], shapes["d"]
    for dt_name, dtype in DTYPES.items():
        for d_a in shapes["d_as"]:
            for T in shapes["Ts"]:
                x = inputs(B, H, T, d, d_a, dtype, device)
                for impl in IMPLS:
                    for mode in ("fwd", "fwd+bwd"):
                        row = {"impl": impl, "mode": mode, "dtype": dt_name, "T": T, "d_a": d_a, "B": B, "H": H, "d_head": d}
                        if clock.left() < 30:
                            rows.append(row | {"skipped": "time budget"})
                            continue
                        try:
                            fn = step_fn(impl, x, mode)
                            med, mn, n = timed(fn, device, shapes["rounds"], shapes["budget_s"])
                            row |= {"median_ms": med, "min_ms": mn, "n": n, "peak_mb": peak_mb(fn, device)}
                        except torch.cuda.OutOfMemoryError as e:
                            row["error"] = f"out of memory: {str(e)[:200]}"
                        except Exception as e:  # noqa: BLE001 - record it, go on with the next case
                            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
                        if impl != "sdpa" and "median_ms" in row:
                            tanh = B * H * AT.tanh_count(T, T, d_a, causal=True, backward=mode != "fwd")
                            row["tanh_per_s"] = tanh / (row["median_ms"] / 1000)
                            row["fraction_of_roofline"] = row["tanh_per_s"] / roofline["peak_tanh_per_s"]
                            if impl == "fused":
                                row["tanh"] = "approx (1 MUFU op)" if dtype != torch.float32 else "exact (2 MUFU ops)"
                        rows.append(row)
                        print(fmt_row(row), flush=True)
                        if device.type == "cuda":
                            torch.cuda.empty_cache()
                del x
    return out


def fmt_row(r):
    if "median_ms" not in r:
        return f"  {r['impl']:8s} {r['mode']:8s} {r['dtype']:9s} T={r['T']:5d} d_a={r['d_a']:3d}  {r.get('error') or r.get('skipped')}"
    frac = f"  {r['fraction_of_roofline']:6.1%} of roofline" if "fraction_of_roofline" in r else ""
    mem = f"  {r['peak_mb']:9.1f} MB" if r.get("peak_mb") is not None else ""
    return f"  {r['impl']:8s} {r['mode']:8s} {r['dtype']:9s} T={r['T']:5d} d_a={r['d_a']:3d}  {r['median_ms']:10.3f} ms{mem}{frac}"


def summarise(out):
    """Speed-ups of the fused kernel over the chunked path, per (dtype, d_a, T, mode)."""
    by = {(r["impl"], r["mode"], r["dtype"], r["T"], r["d_a"]): r for r in out.get("rows", []) if "median_ms" in r}
    sums = []
    for (impl, mode, dt, T, d_a), r in by.items():
        c, s = by.get(("chunked", mode, dt, T, d_a)), by.get(("sdpa", mode, dt, T, d_a))
        if impl == "fused":
            sums.append({"mode": mode, "dtype": dt, "T": T, "d_a": d_a,
                         "fused_speedup_over_chunked": c["median_ms"] / r["median_ms"] if c else None,
                         "fused_over_sdpa_time": r["median_ms"] / s["median_ms"] if s else None,
                         "fraction_of_roofline": r["fraction_of_roofline"]})
    return sums


# ----------------------------------------------------------------------------- 4. experiment 1
def section_experiment(device, clock, dry):
    from minilib.experiments import run
    calls = {"n": 0}
    fused = AT.attention

    def counting(*a, **k):
        calls["n"] += 1
        return fused(*a, **k)

    AT.attention = counting                  # attention() calls additive_triton.attention through the module
    rows = []
    try:
        for variant in ("dot", "additive"):
            if clock.left() < 60:
                rows.append({"variant": variant, "skipped": "time budget"})
                continue
            calls["n"] = 0
            kw = dict(scale="smoke", steps=3, n_samples=2, eval_batches=1) if dry else dict(scale="paper")
            t0 = time.perf_counter()
            r = run("dot_vs_additive", variant, progress=False, **kw)
            rows.append({"variant": variant, "scale": kw["scale"], "wall_seconds": time.perf_counter() - t0,
                         "train_seconds": r.train_seconds, "steps": r.steps, "seconds_per_step": r.seconds_per_step,
                         "final_train_loss": r.final_train_loss, "dev_loss": r.dev_loss, "dev_ppl": math.exp(r.dev_loss),
                         "entropy_floor": r.entropy_floor, "fused_kernel_calls": calls["n"],
                         "writeup_seconds": WRITEUP[variant]})
            print(f"experiment 1, {variant}: {r.steps} steps in {r.train_seconds:.1f} s of training "
                  f"({rows[-1]['wall_seconds']:.0f} s in all), dev loss {r.dev_loss:.3f} (floor {r.entropy_floor:.3f}), "
                  f"{calls['n']} fused-kernel calls", flush=True)
    finally:
        AT.attention = fused
    return {"rows": rows}


# ----------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="run every section on the CPU through Triton's interpreter, tiny shapes")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/bench_cuda.json)")
    ap.add_argument("--budget", type=float, default=450.0, help="seconds for the whole run; later items are skipped past it")
    ap.add_argument("--only", default="tests,bench,experiment")
    args = ap.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device here (torch.cuda.is_available() is False). Run it on a GPU machine, "
                 "or `python3 benchmarks/gpu_check.py --dry-run` to try every code path on the CPU.")
    if not AT.enabled():
        sys.exit("gpu_check: Triton is not importable (or MINILIB_TRITON=0): the fused kernel cannot run. "
                 "CUDA builds of torch bring Triton; otherwise `pip install triton`.")
    device = torch.device("cpu" if args.dry_run else "cuda")
    path = Path(args.out) if args.out else (Path("/tmp/bench_cuda_dryrun.json") if args.dry_run
                                            else HERE / "results" / "bench_cuda.json")
    only = set(args.only.split(","))
    clock = Clock(args.budget)
    import triton
    res = {"schema": 1, "kind": "gpu_check", "dry_run": args.dry_run,
           "provenance": provenance(device) | {"triton": triton.__version__, "cuda": torch.version.cuda,
                                               "argv": sys.argv[1:]}}

    def save():
        res["provenance"]["wall_seconds"] = round(time.perf_counter() - clock.t0, 1)
        write_atomic(path, json.dumps(res, indent=1) + "\n")

    if "tests" in only:
        res["tests"] = section_tests(device, clock)
        save()
    res["roofline"] = section_roofline(device)
    if "bench" in only:
        shapes = TINY if args.dry_run else FULL
        res["kernel"] = {"shapes": {k: v for k, v in shapes.items()}, "causal": True,
                         "timing": "median of CUDA-event times after one warm-up (compile) call"}
        try:
            bench_clock = Clock(min(200.0, clock.left() - 180))       # leave ~3 min for experiment 1
            section_kernel(device, shapes, res["roofline"], bench_clock, res["kernel"])
        finally:
            res["kernel"]["summary"] = summarise(res["kernel"])
            save()
    if "experiment" in only:
        res["experiment1"] = section_experiment(device, clock, args.dry_run)
        save()
    print(f"gpu_check: {res['provenance']['wall_seconds']} s; wrote {path}", flush=True)
    failed = res.get("tests", {}).get("returncode", 0) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
