"""How fast is attention? Step time and peak memory of every attention variant (``make bench``).

    .venv/bin/python benchmarks/bench_attention.py [--device auto|cpu|cuda] [--quick] [--only model,sweep,...]

Sections (each prints a table; all go to ``benchmarks/results/bench_<device>.json`` with provenance):

- ``model``       one training step (forward, backward, clipping, AdamW) of the paper-scale MiniGPT
                  (vocab 8000, 2 layers, 4 heads, n_embd 80; batch 32 x 100 tokens) for every
                  attention variant x Q/K/V mode, exactly as ``minilib.train.train`` runs it.
- ``layer``       forward + backward of one attention layer alone (batch 32 x 100, 80 wide, 4 heads).
- ``realistic``   the same step on real length-bucketed batches of the paper-scale synthetic corpus
                  (most sentences are ~20-25 tokens; few reach 100), from which one epoch's time follows.
- ``sweep``       one layer's step time against sequence length T (dot vs additive), for the book's plot.
- ``formulations`` the additive score alone, computed several ways (what made it fast).
- ``cpu_tuning``  (CPU) minilib's allocator/thread settings against PyTorch's defaults: fresh
                  processes with ``MINILIB_CPU_TUNING=1`` and ``=0`` alternately (mallopt is process-wide).
- ``compile``     the ``torch.compile``-fused additive score (``MINILIB_COMPILE=1``) against the eager one,
                  with its first-call (compile) time; ``--no-compile`` skips it.
- ``memory``      peak memory of each model / layer variant: on CPU the growth of the peak resident set
                  (``ru_maxrss``) in a fresh process per variant; on CUDA ``torch.cuda.max_memory_allocated``.

Variants: ``dot_sdpa`` (the fused fast path, minilib's default), ``dot_readable`` (the step-by-step
path: what runs when attention weights are requested), ``additive``, ``zero_mask`` (0-masking after
the softmax: the leaky one) and ``additive_v0`` (the additive score before the speed work, kept in
``legacy_additive.py``). Repeats are interleaved across variants, in a rotating order, and summarised
by medians, so every ratio compares numbers taken side by side in one process. Timings on a shared
machine are only as good as its quiet: the load average before and after is recorded.

A plain script: it asserts nothing about time. On CUDA it synchronises around every timed step,
runs bf16 autocast and fused AdamW (as ``train()`` does), and measures memory with the CUDA allocator.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from minilib.attention import additive_fast as AF  # noqa: E402
from minilib.attention import scores as S  # noqa: E402
from minilib.attention import MultiHeadAttention  # noqa: E402
from minilib.device import autocast, cpu_tuning, pick_device, tune_cpu  # noqa: E402
from minilib.models import GPTConfig, MiniGPT  # noqa: E402
from minilib.provenance import provenance  # noqa: E402
from minilib.train import TrainConfig, make_optimizer, train_step  # noqa: E402

from legacy_additive import additive_scores_v0  # noqa: E402

PAPER = dict(vocab_size=8000, block_size=100, n_layer=2, n_head=4, n_embd=80)   # GPTConfig defaults
BATCH, SEQ = 32, 100
QKV = ("separate", "shared_qk", "shared_qkv")
# variant -> (GPTConfig overrides, readable path?, additive implementation override)
VARIANTS = {
    "dot_sdpa": ({"score": "dot"}, False, None),
    "dot_readable": ({"score": "dot"}, True, None),
    "additive": ({"score": "additive"}, False, None),
    "zero_mask": ({"score": "dot", "masking": "zero"}, False, None),
    "additive_v0": ({"score": "additive"}, False, "v0"),
    "additive_compiled": ({"score": "additive"}, False, "compiled"),
}
LABELS = {"dot_sdpa": "dot (SDPA)", "dot_readable": "dot (readable)", "additive": "additive",
          "zero_mask": "zero-mask", "additive_v0": "additive (before)", "additive_compiled": "additive (compiled)"}
MAIN_VARIANTS = ["dot_sdpa", "dot_readable", "additive", "zero_mask"]
SWEEP_T = (25, 50, 100, 200, 400)
SECTIONS = ("model", "layer", "realistic", "sweep", "formulations", "cpu_tuning", "memory")   # + "compile"


# ----------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def additive_impl(which):
    """Swap the additive score function that ``attention()`` calls: "v0" (before), "compiled", or None."""
    if which is None:
        yield
        return
    saved = S.SCORES["additive"]
    if which == "v0":
        S.SCORES["additive"] = additive_scores_v0
    elif which == "compiled":
        S.SCORES["additive"] = lambda q, k, **kw: S.additive_scores(q, k, compile=True, **kw)
    try:
        yield
    finally:
        S.SCORES["additive"] = saved


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summary(times_s):
    ms = sorted(1000 * t for t in times_s)
    q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0]] * 3
    return {"median_ms": round(statistics.median(ms), 3), "min_ms": round(ms[0], 3),
            "q1_ms": round(q[0], 3), "q3_ms": round(q[2], 3), "n": len(ms)}


def interleave(cases, rounds, warmup, device):
    """Time ``cases`` (name -> zero-argument step function), one step each per round, in a
    rotating order; ``warmup`` untimed rounds first. Returns name -> list of seconds."""
    names = list(cases)
    times = {n: [] for n in names}
    for r in range(warmup + rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            sync(device)
            t0 = time.perf_counter()
            cases[n]()
            sync(device)
            if r >= warmup:
                times[n].append(time.perf_counter() - t0)
    return times


def load():
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_provenance(device, args):
    return provenance(device) | {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform(),
                                 "amp_bf16": device.type == "cuda" and torch.cuda.is_bf16_supported(),
                                 "argv": sys.argv[1:], "quick": args.quick}


# ------------------------------------------------------------------------ the steps
def random_batch(B, T, vocab, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, vocab, (B, T), generator=g)
    return idx.to(device), torch.randint(0, vocab, (B, T), generator=g).to(device), None


def build_model(variant, qkv, device, T=SEQ):
    cfg, readable, impl = VARIANTS[variant]
    torch.manual_seed(0)
    model = MiniGPT(GPTConfig(**PAPER | {"block_size": max(T, SEQ)}, qkv=qkv, fast=not readable, **cfg))
    model = model.to(device).train()
    opt = make_optimizer(model, TrainConfig(), device)
    return model, opt, readable, impl


def model_step_fn(model, opt, readable, impl, batch, device):
    """One training step exactly as ``minilib.train.train`` takes it: ``train_step`` (autocast, backward,
    clipping, AdamW). ``readable`` models were built with ``fast=False`` (the step-by-step attention path)."""
    cfg = TrainConfig()

    def step():
        with additive_impl(impl):
            train_step(model, opt, batch, cfg, device)
    return step


def layer_step_fn(variant, qkv, device, T=SEQ, B=BATCH):
    """Forward + backward of one MultiHeadAttention layer (80 wide, 4 heads) on x [B, T, 80]."""
    cfg, readable, impl = VARIANTS[variant]
    torch.manual_seed(0)
    mha = MultiHeadAttention(PAPER["n_embd"], PAPER["n_head"], qkv=qkv, score=cfg["score"],
                             masking=cfg.get("masking", "-inf"), fast=not readable).to(device)
    x = torch.randn(B, T, PAPER["n_embd"], device=device, requires_grad=True)
    gy = torch.randn(B, T, PAPER["n_embd"], device=device)

    def step():
        with additive_impl(impl), autocast(device):
            y = mha(x)
        y.backward(gy)
        mha.zero_grad(set_to_none=True)
        x.grad = None
    return step


# ------------------------------------------------------------------------- sections
def section_model(args, device, T=SEQ):
    cases, meta = {}, {}
    batch = random_batch(BATCH, T, PAPER["vocab_size"], device)
    for qkv in QKV:
        for v in MAIN_VARIANTS:
            m, opt, readable, impl = build_model(v, qkv, device)
            cases[(v, qkv)] = model_step_fn(m, opt, readable, impl, batch, device)
    # before/after: the additive score as it was, same model
    m, opt, readable, impl = build_model("additive_v0", "separate", device)
    cases[("additive_v0", "separate")] = model_step_fn(m, opt, readable, impl, batch, device)
    meta["n_params"] = m.num_params()
    times = interleave(cases, args.rounds, args.warmup, device)
    return rows_with_ratios(times), meta


def section_layer(args, device):
    cases = {}
    for qkv in QKV:
        for v in MAIN_VARIANTS:
            cases[(v, qkv)] = layer_step_fn(v, qkv, device)
    cases[("additive_v0", "separate")] = layer_step_fn("additive_v0", "separate", device)
    times = interleave(cases, args.rounds * 2, args.warmup, device)
    return rows_with_ratios(times)


def rows_with_ratios(times):
    rows = []
    for (v, qkv), ts in times.items():
        base = statistics.median(times[("dot_sdpa", qkv)]) if ("dot_sdpa", qkv) in times else None
        r = {"variant": v, "label": LABELS[v], "qkv": qkv} | summary(ts)
        r["ratio_to_dot_sdpa"] = round(statistics.median(ts) / base, 3) if base else None
        rows.append(r)
    return rows


def realistic_batches(args, device):
    """K batches at evenly spaced quantiles of padded length, from the paper-scale synthetic corpus,
    bucketed as the labs batch it; and the epoch's length histogram."""
    from minilib import data as D
    n_tokens = 200_000 if args.quick else D.PAPER_TRAIN_TOKENS
    corpus = D.load_corpus("synthetic", n_train_tokens=n_tokens, n_types=7_996, seed=0)
    tok = corpus.tokenizer(max_size=PAPER["vocab_size"])
    ids = [tok.encode(s, add_special=True) for s in corpus.train]
    batches = D.make_batches(ids, batch_size=BATCH, max_len=SEQ, pad_id=tok.pad_id, seed=0)
    lengths = sorted(b.idx.shape[1] for b in batches)
    K = 6 if args.quick else 16
    order = sorted(range(len(batches)), key=lambda i: batches[i].idx.shape[1])
    pick = [order[min(len(order) - 1, int((j + 0.5) / K * len(order)))] for j in range(K)]
    chosen = [tuple(t.to(device) for t in batches[i]) for i in pick]
    info = {"corpus_tokens": n_tokens, "n_batches": len(batches), "vocab": tok.vocab_size,
            "mean_len": round(statistics.mean(lengths), 2), "median_len": statistics.median(lengths),
            "p90_len": lengths[int(0.9 * (len(lengths) - 1))], "max_len": lengths[-1],
            "sampled_lengths": [b[0].shape[1] for b in chosen]}
    return chosen, info


def section_realistic(args, device):
    chosen, info = realistic_batches(args, device)
    cases = {}
    for v in ("dot_sdpa", "additive"):
        m, opt, readable, impl = build_model(v, "separate", device)
        steps = [model_step_fn(m, opt, readable, impl, b, device) for b in chosen]
        cases[v] = lambda steps=steps: [s() for s in steps]   # one pass over the K sampled batches
    times = interleave(cases, max(3, args.rounds // 3), 1, device)
    rows = []
    K = len(chosen)
    for v, ts in times.items():
        per_step = [t / K for t in ts]
        r = {"variant": v, "label": LABELS[v]} | summary(per_step)
        r["epoch_minutes_estimate"] = round(statistics.median(per_step) * info["n_batches"] / 60, 2)
        rows.append(r)
    base = next(r for r in rows if r["variant"] == "dot_sdpa")["median_ms"]
    for r in rows:
        r["ratio_to_dot_sdpa"] = round(r["median_ms"] / base, 3)
    return rows, info


def section_sweep(args, device):
    Ts = SWEEP_T[:3] if args.quick else SWEEP_T
    cases = {}
    for T in Ts:
        for v in ("dot_sdpa", "dot_readable", "additive", "additive_v0"):
            cases[(v, T)] = layer_step_fn(v, "separate", device, T=T)
    times = interleave(cases, max(3, args.rounds // 2), 1, device)
    rows = []
    for (v, T), ts in times.items():
        base = statistics.median(times[("dot_sdpa", T)])
        rows.append({"variant": v, "label": LABELS[v], "T": T} | summary(ts)
                    | {"ratio_to_dot_sdpa": round(statistics.median(ts) / base, 3)})
    return rows


def section_formulations(args, device):
    """The additive score alone ([32, 4, 100, 20] queries and keys, d_a = 20), forward + backward."""
    B, H, T, d = BATCH, PAPER["n_head"], SEQ, PAPER["n_embd"] // PAPER["n_head"]
    torch.manual_seed(0)
    q, k = (torch.randn(B, H, T, d, device=device, requires_grad=True) for _ in range(2))
    w = {n: (torch.randn(*s, device=device) / math.sqrt(d)).requires_grad_() for n, s in
         (("w_q", (H, d, d)), ("w_k", (H, d, d)), ("w2", (H, d)))}
    keep = torch.ones(T, T, dtype=torch.bool, device=device).tril()
    g = torch.randn(B, H, T, T, device=device).masked_fill(~keep, 0.0)   # masked scores get no gradient

    def broadcast(q, k, w_q, w_k, w2, **_):
        return (torch.tanh((q @ w_q)[..., :, None, :] + (k @ w_k)[..., None, :, :]) * w2[:, None, None, :]).sum(-1)

    forms = {
        "dot_scores": ("q k^T / sqrt(d) (for scale)", lambda **kw: S.dot_scores(q, k)),
        "reference": ("pairs [q;k] @ W1, tanh, @ w2 (the write-up's formula)",
                      lambda **kw: S.additive_scores_reference(q, k, **kw)),
        "broadcast": ("tanh(Wq q_i + Wk k_j) by broadcasting, autograd", lambda **kw: broadcast(q, k, **kw)),
        "v0": ("chunks + causal skip + recompute, tanh (before)", lambda **kw: additive_scores_v0(q, k, causal=True, **kw)),
        "sigmoid_nocausal": ("chunks + recompute, sigmoid, bmm backward, no causal skip",
                             lambda **kw: S.additive_scores(q, k, causal=False, compile=False, **kw)),
        "minilib": ("chunks + causal skip + recompute, sigmoid, bmm backward (now)",
                    lambda **kw: S.additive_scores(q, k, causal=True, compile=False, **kw)),
        "minilib_bf16": ("the same in bfloat16 (autocast)", lambda **kw: S.additive_scores(q, k, causal=True, compile=False, **kw)),
        "minilib_da10": ("the same with half the tanh width, d_a = 10",
                         lambda **kw: S.additive_scores(q, k, causal=True, compile=False,
                                                        **{n: t[..., : d // 2] for n, t in kw.items()})),
    }
    cases = {}
    for name, (_, f) in forms.items():
        def step(f=f, bf16=name.endswith("bf16")):
            amp = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else autocast(device)
            with amp:
                s = f(**w)
            s.backward(g.to(s.dtype))
            for t in (q, k, *w.values()):
                t.grad = None
        cases[name] = step
    x = torch.randn(1 << 20, device=device)          # one chunk's worth of elements (4 MB)
    for name, what, f in (("tanh_1M", "torch.tanh on 2^20 floats", torch.tanh),
                          ("sigmoid_1M", "torch.sigmoid on 2^20 floats", torch.sigmoid)):
        forms[name] = (what, None)
        cases[name] = lambda f=f: f(x)
    times = interleave(cases, max(3, args.rounds // 2), 1, device)
    return [{"formulation": n, "what": forms[n][0]} | summary(ts) for n, ts in times.items()]


def section_compile(args, device):
    """The compiled fused additive score against the eager chunked one: one layer and the whole model."""
    import tempfile
    out = {"cold": True}
    # a cold compile, as a learner's first run meets it: a fresh on-disk cache for inductor
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_inductor_")
    t0 = time.perf_counter()
    try:
        layer = layer_step_fn("additive_compiled", "separate", device)
        layer()
        sync(device)
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    out["first_call_seconds"] = round(time.perf_counter() - t0, 1)
    out["compile_error"] = AF._COMPILED.get("error")
    cases = {"additive": layer_step_fn("additive", "separate", device), "additive_compiled": layer}
    batch = random_batch(BATCH, SEQ, PAPER["vocab_size"], device)
    for v in ("additive", "additive_compiled"):
        m, opt, readable, impl = build_model(v, "separate", device)
        cases[("model", v)] = model_step_fn(m, opt, readable, impl, batch, device)
    times = interleave(cases, max(3, args.rounds // 2), 2, device)
    out["rows"] = [{"what": "model" if isinstance(n, tuple) else "layer",
                    "variant": n[1] if isinstance(n, tuple) else n} | summary(ts) for n, ts in times.items()]
    shutil.rmtree(os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
    return out


# -------------------------------------------------------------- subprocess workers (CPU)
def run_worker(args_list, env_extra=None):
    env = dict(os.environ) | (env_extra or {})
    r = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args_list], capture_output=True,
                       text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"worker {args_list} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def worker_tuning(args):
    """In a fresh process: tune_cpu() (which obeys MINILIB_CPU_TUNING), then dot and additive model steps."""
    tune_cpu()
    device = torch.device("cpu")
    batch = random_batch(BATCH, SEQ, PAPER["vocab_size"], device)
    cases = {}
    for v in ("dot_sdpa", "additive"):
        m, opt, readable, impl = build_model(v, "separate", device)
        cases[v] = model_step_fn(m, opt, readable, impl, batch, device)
    times = interleave(cases, args.rounds, args.warmup, device)
    try:     # this process's own peak (ru_maxrss would include the parent's size at fork: it survives exec)
        peak = _status_mb("VmHWM")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"times": times, "threads": torch.get_num_threads(), "cpu_tuning": cpu_tuning(),
                      "maxrss_mb": peak}))


def section_cpu_tuning(args, device):
    """Fresh processes, tuned and default alternately (pairs), each timing dot and additive steps."""
    pairs = 1 if args.quick else 2
    acc = {"tuned": {"dot_sdpa": [], "additive": []}, "default": {"dot_sdpa": [], "additive": []}}
    info = {}
    for _ in range(pairs):
        for setting, flag in (("tuned", "1"), ("default", "0")):
            res = run_worker(["--worker", "tuning", "--rounds", str(max(4, args.rounds // 2)), "--warmup", str(args.warmup)],
                             {"MINILIB_CPU_TUNING": flag})
            for v, ts in res["times"].items():
                acc[setting][v].extend(ts)
            info[setting] = {"threads": res["threads"], "cpu_tuning": res["cpu_tuning"],
                             "maxrss_mb": round(res["maxrss_mb"], 1)}
    rows = []
    for setting in ("tuned", "default"):
        for v, ts in acc[setting].items():
            rows.append({"setting": setting, "variant": v, "label": LABELS[v]} | summary(ts))
    med = {(r["setting"], r["variant"]): r["median_ms"] for r in rows}
    speedup = {v: round(med[("default", v)] / med[("tuned", v)], 3) for v in ("dot_sdpa", "additive")}
    return {"rows": rows, "speedup_tuned_over_default": speedup, "processes": info, "pairs": pairs}


def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def worker_memory(args):
    """In a fresh process: how far one steady-state step raises the resident set above where it started.

    Linux: after a warm-up step (AdamW creates its state there), reset the peak (``VmHWM``, via
    ``/proc/self/clear_refs``), take two steps, and report the new peak minus the resident set before
    them. PyTorch's default allocator settings (``MINILIB_CPU_TUNING=0``, set by the caller) return
    big freed blocks to the system, so the resident set follows the live tensors. Elsewhere: the
    growth of ``ru_maxrss`` over the first steps (coarser: it includes the optimizer state).
    """
    tune_cpu()
    device = torch.device("cpu")
    what, v, qkv = args.what, args.variant, args.qkv
    if what == "model":
        batch = random_batch(BATCH, SEQ, PAPER["vocab_size"], device)
        m, opt, readable, impl = build_model(v, qkv, device)
        step = model_step_fn(m, opt, readable, impl, batch, device)
    else:
        step = layer_step_fn(v, qkv, device)
    try:
        step()
        before = _status_mb("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                      # reset the peak resident set to the current one
        for _ in range(2):
            step()
        peak, how = _status_mb("VmHWM") - before, "VmHWM"
    except OSError:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            step()
        peak, how = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, "ru_maxrss"
    print(json.dumps({"peak_mb": round(peak, 1), "how": how}))


def cuda_peak_mb(step, device):
    step()
    sync(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    step()
    sync(device)
    return round((torch.cuda.max_memory_allocated(device) - base) / 2**20, 1)


def section_memory(args, device):
    rows = []
    variants = MAIN_VARIANTS + ["additive_v0"]
    qkvs = ("separate",) if args.quick else QKV
    for what in ("model", "layer"):
        for qkv in qkvs:
            for v in variants:
                if v == "additive_v0" and qkv != "separate":
                    continue
                if device.type == "cuda":
                    if what == "model":
                        m, opt, readable, impl = build_model(v, qkv, device)
                        step = model_step_fn(m, opt, readable, impl, random_batch(BATCH, SEQ, PAPER["vocab_size"], device), device)
                    else:
                        step = layer_step_fn(v, qkv, device)
                    peak = cuda_peak_mb(step, device)
                    del step
                else:
                    peak = run_worker(["--worker", "memory", "--what", what, "--variant", v, "--qkv", qkv],
                                      {"MINILIB_CPU_TUNING": "0"})["peak_mb"]
                rows.append({"what": what, "variant": v, "label": LABELS[v], "qkv": qkv, "peak_mb": peak})
    method = ("torch.cuda.max_memory_allocated over one step, minus what was allocated before it" if device.type == "cuda"
              else "peak resident set during two steady-state steps minus the resident set before them "
                   "(Linux VmHWM, reset after a warm-up step), in a fresh process per variant, with PyTorch's "
                   "default allocator settings (MINILIB_CPU_TUNING=0) so that freed blocks leave the resident set")
    return {"rows": rows, "method": method}


# -------------------------------------------------------------------------- printing
def table(title, rows, cols):
    print(f"\n{title}")
    widths = [max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(fmt(r.get(c)).ljust(w) for c, w in zip(cols, widths)))


def fmt(x):
    if isinstance(x, float):
        return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}"
    return "" if x is None else str(x)


def targets(res):
    """The issue's done-when numbers, from this run."""
    out = {}
    rows = {(r["variant"], r["qkv"]): r for r in res.get("model", {}).get("rows", [])}
    if ("additive", "separate") in rows:
        out["additive_over_dot_step"] = {"value": rows[("additive", "separate")]["ratio_to_dot_sdpa"], "target": 1.5,
                                         "met": rows[("additive", "separate")]["ratio_to_dot_sdpa"] <= 1.5}
    if ("additive_v0", "separate") in rows:
        out["additive_over_dot_step_before"] = rows[("additive_v0", "separate")]["ratio_to_dot_sdpa"]
    tun = res.get("cpu_tuning")
    if tun and "speedup_tuned_over_default" in tun:
        s = tun["speedup_tuned_over_default"]["dot_sdpa"]
        out["dot_step_tuned_speedup"] = {"value": s, "target": 1.5, "met": s >= 1.5}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few repeats, short sweep, no JSON unless --out")
    ap.add_argument("--only", default=None, help=f"comma-separated sections from {', '.join(SECTIONS)}, compile")
    ap.add_argument("--no-compile", action="store_true", help="skip timing the torch.compile-fused additive score")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/bench_<device>.json)")
    ap.add_argument("--worker", choices=("tuning", "memory"), help=argparse.SUPPRESS)
    ap.add_argument("--what", help=argparse.SUPPRESS)
    ap.add_argument("--variant", help=argparse.SUPPRESS)
    ap.add_argument("--qkv", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 15)
    if args.worker == "tuning":
        return worker_tuning(args)
    if args.worker == "memory":
        return worker_memory(args)

    device = pick_device(None if args.device == "auto" else args.device)
    if device.type == "cpu":
        tune_cpu()                                   # minilib's default, as train() does
    sections = args.only.split(",") if args.only else list(SECTIONS) + ([] if args.no_compile else ["compile"])
    if device.type != "cpu" and "cpu_tuning" in sections:
        sections.remove("cpu_tuning")
    t_start = time.perf_counter()
    res = {"schema": 1, "provenance": bench_provenance(device, args) | {"load_avg_before": load()},
           "config": {"model": PAPER, "batch": BATCH, "seq": SEQ, "rounds": args.rounds, "warmup": args.warmup,
                      "chunk_elements": AF.CHUNK_ELEMENTS, "statistic": "median of interleaved repeats"}}
    print(f"bench_attention on {res['provenance']['device_name']} ({res['provenance']['cpu_model']}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {load()}, sections: {', '.join(sections)}")
    cols = ["label", "qkv", "median_ms", "q1_ms", "q3_ms", "ratio_to_dot_sdpa"]
    for sec in sections:
        t0, l0 = time.perf_counter(), load()
        if sec == "model":
            rows, meta = section_model(args, device)
            res["model"] = {"rows": rows} | meta
            table(f"Whole training step, paper-scale MiniGPT ({meta['n_params']:,} params), batch {BATCH} x {SEQ}", rows, cols)
        elif sec == "layer":
            rows = section_layer(args, device)
            res["layer"] = {"rows": rows}
            table(f"One attention layer, forward + backward, batch {BATCH} x {SEQ}", rows, cols)
        elif sec == "realistic":
            rows, info = section_realistic(args, device)
            res["realistic"] = {"rows": rows, "batches": info}
            table(f"Length-bucketed batches of the synthetic corpus (lengths {info['sampled_lengths']})", rows,
                  ["label", "median_ms", "q1_ms", "q3_ms", "ratio_to_dot_sdpa", "epoch_minutes_estimate"])
        elif sec == "sweep":
            rows = section_sweep(args, device)
            res["sweep"] = {"rows": rows}
            table("One layer against sequence length", rows, ["label", "T", "median_ms", "ratio_to_dot_sdpa"])
        elif sec == "formulations":
            rows = section_formulations(args, device)
            res["formulations"] = {"rows": rows}
            table("The additive score alone, several ways (forward + backward)", rows, ["formulation", "median_ms", "what"])
        elif sec == "cpu_tuning":
            out = section_cpu_tuning(args, device)
            res["cpu_tuning"] = out
            table(f"minilib's CPU tuning vs PyTorch's defaults (speed-up {out['speedup_tuned_over_default']})",
                  out["rows"], ["setting", "label", "median_ms", "q1_ms", "q3_ms"])
        elif sec == "compile":
            out = section_compile(args, device)
            res["compile"] = out
            if "rows" in out:
                table(f"torch.compile (first call {out['first_call_seconds']} s)", out["rows"], ["what", "variant", "median_ms"])
            else:
                print("\ncompile failed:", out)
        elif sec == "memory":
            out = section_memory(args, device)
            res["memory"] = out
            table("Peak memory", out["rows"], ["what", "label", "qkv", "peak_mb"])
        else:
            raise SystemExit(f"unknown section {sec!r}; valid: {', '.join(SECTIONS)}, compile")
        res.setdefault("section_meta", {})[sec] = {"seconds": round(time.perf_counter() - t0, 1),
                                                   "load_avg_before": l0, "load_avg_after": load()}
    res["targets"] = targets(res)
    res["provenance"]["load_avg_after"] = load()
    res["provenance"]["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    print("\ntargets:", json.dumps(res["targets"]))
    print(f"total {res['provenance']['wall_seconds']} s; load average before {res['provenance']['load_avg_before']}, "
          f"after {res['provenance']['load_avg_after']}")
    if args.out or not (args.quick or args.only):
        path = Path(args.out) if args.out else HERE / "results" / f"bench_{device.type}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1) + "\n")
        print("wrote", path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
