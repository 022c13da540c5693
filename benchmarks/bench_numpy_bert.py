"""The embedding gradient of the NumPy mini-BERT: ``np.add.at`` against seed 001's nested loops.

All three compute ``dE`` for ``out = E[ids]`` (a scatter-add of ``dout [B, T, C]`` into ``[V, C]``);
``np.add.at`` is timed in two spellings, whole rows (``embedding_grad_rows``, the seed's fix)
and one index per element of the flattened table (``embedding_grad``, the library's). They are
checked equal here (and in tests/test_numpy_bert.py). Timed side by side in one process,
alternating, several rounds; the JSON keeps every timing, the medians and their ratio, with
provenance. Sizes: chapter 5's MLM runs, the course's paper scale and BERT-base (vocabulary
30,522, width 768, batch 32 x 128), in float32.

    .venv/bin/python benchmarks/bench_numpy_bert.py            # writes benchmarks/results/bench_numpy_bert.json
    .venv/bin/python benchmarks/bench_numpy_bert.py --quick    # fewer rounds, writes nothing
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minilib.numpy_bert import embedding_grad, embedding_grad_loop, embedding_grad_rows  # noqa: E402

SIZES = {  # name: (vocabulary, width, batch, sequence length)
    "chapter 5's MLM runs, cpu scale (V 600, C 64, 32 x 64)": (600, 64, 32, 64),
    "course paper scale (V 8,000, C 80, 32 x 100)": (8_000, 80, 32, 100),
    "BERT-base (V 30,522, C 768, 32 x 128)": (30_522, 768, 32, 128),
}
WAYS = {"nested loops": embedding_grad_loop, "np.add.at, rows": embedding_grad_rows,
        "np.add.at, flat": embedding_grad}


def bench(V, C, B, T, rounds, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.zipf(1.2, size=(B, T)) % V                  # Zipfian ids: frequent tokens repeat, as in text
    dout = rng.standard_normal((B, T, C), dtype=np.float32)
    ref = embedding_grad_loop(ids, dout, V)
    for way in WAYS.values():
        np.testing.assert_allclose(way(ids, dout, V), ref, rtol=1e-5, atol=1e-5)
    times = {w: [] for w in WAYS}
    for r in range(rounds):
        for w in list(WAYS)[r % len(WAYS):] + list(WAYS)[:r % len(WAYS)]:     # rotate the order
            t = time.perf_counter()
            WAYS[w](ids, dout, V)
            times[w].append(time.perf_counter() - t)
    med = {w: statistics.median(ts) for w, ts in times.items()}
    return {"V": V, "C": C, "B": B, "T": T, "repeated_ids": int(B * T - len(np.unique(ids))),
            "median_ms": {w: round(1000 * m, 3) for w, m in med.items()},
            "ms": {w: [round(1000 * t, 3) for t in ts] for w, ts in times.items()},
            "speedup_vs_loops": {w: round(med["nested loops"] / med[w], 2) for w in WAYS if w != "nested loops"}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--quick", action="store_true", help="3 rounds, write nothing")
    ap.add_argument("--out", default=str(HERE / "results" / "bench_numpy_bert.json"))
    args = ap.parse_args(argv)
    import torch

    from minilib.provenance import provenance
    def load():
        return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    res = {"schema": 1, "provenance": provenance(torch.device("cpu")) | {"numpy": np.__version__,
                                                                       "load_avg_before": load()}, "sizes": {}}
    for name, (V, C, B, T) in SIZES.items():
        r = bench(V, C, B, T, 3 if args.quick else args.rounds)
        res["sizes"][name] = r
        times = ", ".join(f"{w} {m:.2f} ms" for w, m in r["median_ms"].items())
        ratios = ", ".join(f"{w.split(', ')[1]} {x:.2f}x" for w, x in r["speedup_vs_loops"].items())
        print(f"{name}: {times}; loops / np.add.at: {ratios}", flush=True)
    res["provenance"]["load_avg_after"] = load()
    if not args.quick:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
        print("wrote", args.out)


if __name__ == "__main__":
    main()
