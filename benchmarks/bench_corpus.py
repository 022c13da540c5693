"""How long the paper-scale synthetic corpus takes: generated cold, then loaded from its cache.

    .venv/bin/python benchmarks/bench_corpus.py [--n-train-tokens 1561375] [--n-types 7900]

A plain script: it prints timings and statistics and asserts nothing about time.
The cold run uses a fresh temporary cache directory, so it never reads (or
pollutes) ``~/.cache/minilib``.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minilib.data import PAPER_TRAIN_TOKENS, corpus_stats, encode_corpus, load_corpus, make_batches  # noqa: E402


def timed(label, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{label:<44s} {time.perf_counter() - t:7.2f} s")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train-tokens", type=int, default=PAPER_TRAIN_TOKENS)
    ap.add_argument("--n-types", type=int, default=7_900)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    kw = dict(n_train_tokens=args.n_train_tokens, n_types=args.n_types, seed=args.seed)
    print(f"synthetic corpus: {args.n_train_tokens:,} training tokens, {args.n_types:,} word types, "
          f"seed {args.seed}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as cache:
        corpus = timed("generate + write cache (cold)", lambda: load_corpus(cache_dir=cache, **kw))
        again = timed("load from cache (warm)", lambda: load_corpus(cache_dir=cache, **kw))
        assert again.meta["cached"] and again.train == corpus.train
        size = sum(f.stat().st_size for f in os.scandir(cache))
    timed("import torch (make_batches needs it)", lambda: __import__("torch"))
    tok = timed("tokenizer (max_size 8,000)", lambda: corpus.tokenizer(max_size=8_000))
    rows = timed("encode all splits", lambda: encode_corpus(corpus, tok))
    batches = timed("make_batches (train, 32 x 100)", lambda: make_batches(rows["train"]))
    est = timed("entropy_per_token (20,000 sentences)", lambda: corpus.language.entropy_per_token(20_000))
    print()
    print(corpus_stats(corpus))
    print(f"cache file: {size / 1e6:.1f} MB; vocabulary {tok.vocab_size:,} ids; {len(batches):,} batches per epoch")
    print(f"entropy floor: {est.value:.4f} ± {est.stderr:.4f} nats/token (perplexity {2.718281828 ** est.value:.1f})")


if __name__ == "__main__":
    main()
