"""The causal-LM experiments: the three comparisons of the original write-up (seed 002, §2.2).

    from minilib.experiments import run, compare
    r = run("dot_vs_additive", "additive", scale="smoke")

One function trains and measures; the lab panels, the reference runs and a plain
Python session all call it. A run is determined by (experiment, variant, scale,
seed, overrides); the data set depends only on the scale, so every variant and
seed of a scale sees the same corpus.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import warnings
import zlib

import torch

from .. import data as D
from ..choices import check_choice
from ..device import seed_everything
from ..metrics import evaluate, leak_probe, sequence_loss
from ..models import GPTConfig, MiniGPT
from ..provenance import provenance
from .. import results
from ..results import RunResult, load_references
from ..scale import resolve_scale
from ..train import TrainConfig, tail_mean, train

EXPERIMENTS = {
    "dot_vs_additive": {"dot": {"score": "dot"}, "additive": {"score": "additive"}},
    "qkv_sharing": {"separate": {"qkv": "separate"}, "shared_qk": {"qkv": "shared_qk"},
                    "shared_qkv": {"qkv": "shared_qkv"}},
    "masking": {"-inf": {"masking": "-inf"}, "zero": {"masking": "zero"}},
}
# The variant of each experiment that is the plain model (dot scores, separate Q/K/V, -inf masking):
# the same run in all three experiments, so it is trained and stored once, as "baseline".
BASELINE = {"dot_vs_additive": "dot", "qkv_sharing": "separate", "masking": "-inf"}

# What each scale means. `paper` is the write-up's configuration: ~1.44M parameters
# (write-up: 1.41M), sentences truncated to 100 tokens, batch 32, one epoch of ~1.56M
# tokens, AdamW at lr 5e-4. Smaller scales shrink the corpus and the model.
SCALE_SETTINGS = {
    "smoke": dict(n_train_tokens=16_000, n_types=300, vocab_size=304, max_len=40, batch_size=16,
                  n_layer=1, n_head=2, n_embd=32, lr=5e-3, steps=None, n_samples=50, eval_batches=8),
    "cpu": dict(n_train_tokens=250_000, n_types=1_996, vocab_size=2_000, max_len=100, batch_size=32,
                n_layer=2, n_head=4, n_embd=64, lr=2e-3, steps=None, n_samples=200, eval_batches=40),
    "paper": dict(n_train_tokens=1_561_375, n_types=7_996, vocab_size=8_000, max_len=100, batch_size=32,
                  n_layer=2, n_head=4, n_embd=80, lr=5e-4, steps=None, n_samples=200, eval_batches=100),
}
DATA_KEYS = ("n_train_tokens", "n_types", "vocab_size", "max_len", "batch_size")
MODEL_KEYS = tuple(f.name for f in dataclasses.fields(GPTConfig))
TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainConfig))
RUN_KEYS = ("n_samples", "eval_batches")


def scale_note(scale) -> str:
    """One sentence (Markdown) saying what a scale is: which language, how much data, which model."""
    scale = resolve_scale(scale)
    s = SCALE_SETTINGS[scale]
    what = {"smoke": "seconds, for the tests", "cpu": "minutes on a laptop CPU",
            "paper": "the write-up's configuration, for a GPU"}[scale]
    return (f"`{scale}` scale ({what}): the synthetic language with {s['n_types']:,} word types, "
            f"one epoch of {s['n_train_tokens']:,} training tokens, sentences cut to {s['max_len']} tokens, "
            f"batches of {s['batch_size']}; a MiniGPT with {_count(s['n_layer'], 'layer')}, "
            f"{_count(s['n_head'], 'head')} and width {s['n_embd']}, trained at learning rate {s['lr']:g}.")


def _count(k, noun) -> str:
    """``_count(1, "layer")`` is "1 layer", ``_count(2, "layer")`` "2 layers"."""
    return f"{k:,} {noun}{'' if k == 1 else 's'}"


def check(experiment, variant=None):
    check_choice("experiment", experiment, EXPERIMENTS)
    if variant is not None:
        check_choice(f"variant of {experiment!r}:", variant, EXPERIMENTS[experiment])


def settings(experiment, variant, scale="auto", **overrides) -> dict:
    """The full flat settings of a run (scale defaults, then the variant, then the overrides)."""
    check(experiment, variant)
    s = dict(SCALE_SETTINGS[resolve_scale(scale)])
    s.update(EXPERIMENTS[experiment][variant])
    unknown = set(overrides) - set(s) - set(MODEL_KEYS) - set(TRAIN_KEYS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid ones are "
                         f"{sorted(set(s) | set(MODEL_KEYS) | set(TRAIN_KEYS) - {'device', 'checkpoint'})}")
    s.update(overrides)
    return s


def n_steps(experiment, variant, scale="auto", **overrides) -> int:
    """How many training steps ``run`` with the same arguments takes: ``steps``, or one epoch of batches."""
    s = settings(experiment, variant, scale, **overrides)
    if s["steps"]:
        return s["steps"]
    d = prepare_data(*(s[k] for k in DATA_KEYS))
    return math.ceil(len(d["train_ids"]) / s["batch_size"])          # make_batches: the last batch may be smaller


@functools.lru_cache(maxsize=4)
def prepare_data(n_train_tokens, n_types, vocab_size, max_len, batch_size, data_seed=0):
    """Corpus, tokenizer, dev/train-slice batches and the entropy floor for one scale (cached per process)."""
    corpus = D.load_corpus("synthetic", n_train_tokens=n_train_tokens, n_types=n_types, seed=data_seed)
    tok = corpus.tokenizer(max_size=vocab_size)     # the whole lexicon: no <UNK>, so the floor is exact
    enc = lambda sents: [tok.encode(s, add_special=True) for s in sents]
    train_ids, dev_ids = enc(corpus.train), enc(corpus.dev)
    dev = D.make_batches(dev_ids, batch_size=batch_size, max_len=max_len, pad_id=tok.pad_id, shuffle=False)
    floor = D.true_loss(corpus.dev, corpus.language, max_len=max_len).loss
    probes = _probe_sentences(corpus.language)
    probe_floors = [D.true_loss([p], corpus.language, max_len=max_len).loss for p in probes]
    return {"corpus": corpus, "tok": tok, "train_ids": train_ids, "dev": dev, "floor": floor, "probes": probes,
            "probe_floors": probe_floors}


def _probe_sentences(lang: D.SyntheticLanguage, n=4, seed=2024):
    """Four fixed held-out sentences of growing length (the write-up used four English sentences)."""
    import numpy as np
    pool = sorted(lang.sample(400, np.random.default_rng(seed)), key=len)
    return [pool[int(q * (len(pool) - 1))] for q in (0.2, 0.45, 0.7, 0.9)][:n]


def _jsonable(x):
    """The same settings as JSON would give them back (tuples become lists), so saved runs compare equal."""
    return json.loads(json.dumps(x))


def is_baseline(experiment, variant) -> bool:
    return BASELINE.get(experiment) == variant


def reference_path(experiment, variant, scale, seed):
    """Where a stored reference run lives; the baseline of every experiment is one file."""
    if is_baseline(experiment, variant):
        return RunResult.path_for("baseline", "baseline", scale, seed)
    return RunResult.path_for(experiment, variant, scale, seed)


def references(experiment, variant=None, scale=None) -> list:
    """The stored reference runs of ``experiment`` (its baseline read from the shared baseline files),
    sorted by variant, scale and seed; ``variant`` and ``scale`` filter."""
    check(experiment, variant)
    out = load_references(experiment, variant, scale)
    if variant in (None, BASELINE[experiment]):
        out += [dataclasses.replace(r, experiment=experiment, variant=BASELINE[experiment])
                for r in load_references("baseline", None, scale)]
    if not out:
        warnings.warn(f"no stored reference runs of {experiment!r} (variant {variant}, scale {scale}) in "
                      f"{results.RESULTS_DIR}: tables and plots below show only your own runs. `make reproduce` "
                      "remakes them; a pip-installed minilib ships them.", stacklevel=2)
    return sorted(out, key=lambda r: (list(EXPERIMENTS[experiment]).index(r.variant), r.scale, r.seed))


def sampling_seed(variant, seed) -> int:
    """Each variant samples with its own random stream, so two variants never show the same sentences by
    construction (a shared stream makes similar models print near-identical samples)."""
    return zlib.crc32(f"{variant}/{seed}".encode())


def sample_sentences(model, tok, n, max_len, seed=0):
    """n free-running samples from <START> until <STOP> (or max_len tokens), as token lists."""
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    start = torch.full((n, 1), tok.start_id, dtype=torch.long, device=device)
    model.eval()
    out = model.generate(start, max_len, stop_id=tok.stop_id, generator=g).tolist()
    sents = []
    for row in out:
        row = row[1:]
        ended = tok.stop_id in row
        sents.append((tok.decode(row[: row.index(tok.stop_id)] if ended else row), ended))
    return sents


def run(experiment, variant, scale="auto", seed=0, *, callback=None, progress=True, checkpoint=None,
        **overrides) -> RunResult:
    """Train one variant and measure everything the lab tables need. Returns a ``RunResult``."""
    scale = resolve_scale(scale)
    s = settings(experiment, variant, scale, **overrides)
    d = prepare_data(*(s[k] for k in DATA_KEYS))
    tok = d["tok"]
    seed_everything(seed)
    batches = D.make_batches(d["train_ids"], batch_size=s["batch_size"], max_len=s["max_len"],
                             pad_id=tok.pad_id, seed=seed)
    mcfg = GPTConfig(**{k: s[k] for k in MODEL_KEYS if k in s and k != "vocab_size"},
                     vocab_size=tok.vocab_size, block_size=s["max_len"])
    model = MiniGPT(mcfg)
    tcfg = TrainConfig(**{k: s[k] for k in TRAIN_KEYS if k in s}, progress=progress, checkpoint=checkpoint)
    hist = train(model, batches, tcfg, callback=callback)
    device = next(model.parameters()).device                 # where train() put it
    if hist.step < (tcfg.steps or len(batches)):
        raise RuntimeError(f"run stopped early at step {hist.step} (stop_after); resume it with the same checkpoint")
    n_eval = s["eval_batches"]
    dev = evaluate(model, d["dev"], device)                  # the whole dev set: the floor is computed on it too
    train_eval = evaluate(model, batches[:n_eval], device)
    floor = d["floor"]
    probes = []
    for sent, true in zip(d["probes"], d["probe_floors"]):
        loss = sequence_loss(model, tok.encode(sent, add_special=True), device)
        probes.append({"text": " ".join(sent), "loss": loss, "ppl": math.exp(loss), "true_loss": true})
    samples = sample_sentences(model, tok, s["n_samples"], s["max_len"], seed=sampling_seed("baseline" if is_baseline(experiment, variant) else variant, seed))
    lang = d["corpus"].language
    gram = sum(ended and lang.is_grammatical(t) for t, ended in samples) / len(samples)
    probe_batch = d["dev"][0].idx[:8].to(device)
    leak = leak_probe(model, probe_batch, probe_batch.shape[1] // 2) if probe_batch.shape[1] > 2 else float("nan")
    prov = provenance(device)
    result = RunResult(
        experiment=experiment, variant=variant, scale=scale, seed=seed,
        config=_jsonable({"model": mcfg.to_dict(), "train": dataclasses.asdict(tcfg) | {"steps_run": hist.step},
                "data": {k: s[k] for k in DATA_KEYS} | {"train_tokens": hist.tokens, "train_batches": len(batches)}}),
        n_params=model.num_params(), provenance=prov, train_seconds=hist.train_seconds,
        seconds_per_step=hist.seconds_per_step, median_step_ms=hist.median_step_ms, steps=hist.step, losses=hist.losses,
        final_train_loss=tail_mean(hist.losses, 0.05), train_loss=train_eval["loss"], dev_loss=dev["loss"],
        entropy_floor=floor, probes=probes, samples=[" ".join(t) for t, _ in samples[:5]],
        grammatical_rate=gram, leak=leak)
    # not saved to JSON: the trained model itself, for attention maps in the labs
    result.model, result.tokenizer, result.probe_tokens = model, tok, d["probes"]
    return result


def run_all(experiment, scale="auto", seeds=(0,), **kw) -> list:
    """Every variant of an experiment for each seed, interleaved (variant-major within a seed)."""
    check(experiment)
    return [run(experiment, v, scale, seed, **kw) for seed in seeds for v in EXPERIMENTS[experiment]]


def probe_ids(result, i=0):
    """Probe sentence ``i`` of a fresh run as model input ``[1, T]`` (<START> + tokens), on the model's device."""
    ids = result.tokenizer.encode(result.probe_tokens[i], add_special=True)[:-1]          # drop <STOP>: it is never an input
    return torch.tensor([ids[: result.model.config.block_size]], device=next(result.model.parameters()).device)


@torch.no_grad()
def head_qk(result, i=0, layer=0, head=0):
    """Queries and keys ``[T, d_head]`` of one head on probe sentence ``i`` of a fresh run, as the model
    computes them (``MiniGPT.qkv``): with shared Q/K the two are the same tensor."""
    q, k, _ = result.model.qkv(probe_ids(result, i), layer)         # [1, H, T, dh] each
    return q[0, head], k[0, head]


def main(argv=None):
    """``python -m minilib.experiments lm --scale cpu --seeds 0 1 2``: (re)make the stored reference runs."""
    from .cli import parser, store_runs
    args = parser("python -m minilib.experiments lm", "Rerun the language-model experiments and store them in "
                  "minilib/reference_runs/ as reference runs.", EXPERIMENTS, flag="--experiments").parse_args(argv)

    def make(exp, variant, seed):
        r = run(exp, variant, args.scale, seed)
        return dataclasses.replace(r, experiment="baseline", variant="baseline") if is_baseline(exp, variant) else r

    def plan(seed):      # the baseline is one file, made by the first experiment that needs it
        return [(reference_path(exp, v, args.scale, seed), functools.partial(make, exp, v, seed))
                for exp in args.experiments for v in EXPERIMENTS[exp]]

    store_runs(args.seeds, plan, skip_existing=args.skip_existing,
               describe=lambda r: f"{r.steps} steps, {r.median_step_ms:.0f} ms/step (median), dev loss "
               f"{r.dev_loss:.3f} (floor {r.entropy_floor:.3f}), grammatical {r.grammatical_rate:.0%}")
