"""Lab 4's experiments: which attention trains stably? MiniBERT MLM over a learning-rate grid.

After Wortsman et al. (2023), "Small-scale proxies for large-scale Transformer training
instabilities": train the same small model at learning rates spread over a few decades, for
every variant of the attention family (``VARIANTS``) and three seeds, and record per run

- the final dev MLM loss on single-word masks, beside the exact floor for those very words
  (``data.mlm_floor``) and a context-free (unigram) baseline;
- whether training diverged (the trainer's guard stops at a non-finite loss) and at which step,
  and the largest loss spike (how far the smoothed loss rose above its best so far);
- the largest attention logit, the attention entropy and the attention output norm over training
  (``metrics.attention_stats``) and the final learned scalars (cosine scale, Minkowski p, ReLU alpha);
- a length test: trained on sentences of at most ``max_len`` tokens, scored on sentences up to four
  times longer (positions never trained on: the position embeddings there are at their initial values).

``TOGGLES`` are the optimiser changes seed 000's log tried on cosine attention (gradient clipping,
weight decay 0.1, Adam instead of AdamW). ``sweep`` runs a grid and stores every run in
``minilib/reference_runs/stability_<scale>_<variant>_<toggle>.json`` as it finishes (a rerun skips
stored runs), each file with the provenance of the machine that made it.

    r = run("cosine_relu_L", lr=1e-3, scale="smoke")
    python -m minilib.experiments stability --scale cpu
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

import torch

from .. import data as D
from ..choices import check_choice
from ..device import seed_everything, tune_cpu
from ..files import write_atomic
from ..metrics import attention_stats, evaluate
from ..models import BERTConfig, MiniBERT
from ..provenance import provenance
from ..results import RESULTS_DIR
from ..scale import resolve_scale
from ..train import TrainConfig, TrainingDiverged, train

VARIANTS = {   # the attention family as Lab 4 sweeps it; every option is an AttentionOptions field
    "softmax": {},
    "cosine": {"score": "cosine"},
    "cosine_tau": {"score": "cosine", "learn_tau": True, "tau": 10.0},
    "cosine_relu": {"score": "cosine", "normaliser": "relu"},
    "cosine_relu_L": {"score": "cosine", "normaliser": "relu_L"},
    "cosine_relu_sqrtL": {"score": "cosine", "normaliser": "relu_sqrtL"},
    "cosine_relu_Lalpha": {"score": "cosine", "normaliser": "relu_Lalpha"},
    "qkv_norm_relu": {"qk_norm": "l2", "v_norm": "l2", "normaliser": "relu_Lalpha"},
    "qk_layernorm": {"qk_norm": "layer"},
    "euclidean": {"score": "euclidean"},
    "manhattan": {"score": "manhattan"},
    "minkowski": {"score": "minkowski"},
    "sigmoid": {"normaliser": "sigmoid"},
}
TOGGLES = {"adamw": {}, "clip": {"grad_clip": 1.0}, "wd0.1": {"weight_decay": 0.1}, "adam": {"optimizer": "adam"}}
TOGGLED_VARIANTS = ("cosine",)            # the log tried its optimiser changes on cosine attention

# The optimiser every run shares unless a toggle changes it: AdamW, light weight decay, no clipping.
BASE_TRAIN = dict(weight_decay=0.01, grad_clip=None, warmup=0.05, betas=(0.9, 0.98))
SCALE_SETTINGS = {
    "smoke": dict(n_train_tokens=30_000, n_types=120, max_len=16, batch_size=16, n_layer=1, n_head=2, n_embd=16,
                  steps=40, n_floor=24, n_floor_long=16, stats_every=20, lrs=(1e-3, 1e-2)),
    "cpu": dict(n_train_tokens=300_000, n_types=120, max_len=24, batch_size=32, n_layer=2, n_head=2, n_embd=32,
                steps=800, n_floor=300, n_floor_long=100, stats_every=40, lrs=(3e-4, 1e-3, 3e-3, 1e-2, 3e-2)),
    "paper": dict(n_train_tokens=2_000_000, n_types=2_000, max_len=64, batch_size=64, n_layer=4, n_head=4,
                  n_embd=128, steps=5000, n_floor=500, n_floor_long=200, stats_every=100,
                  lrs=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)),
}
DATA_KEYS = ("n_train_tokens", "n_types", "max_len", "batch_size", "n_floor", "n_floor_long")
MODEL_KEYS = ("n_layer", "n_head", "n_embd")
SPIKE_WINDOW = 50       # steps the loss is smoothed over before spikes are measured (one batch is noisy)
LOSS_EVERY = 10         # the stored loss curve: means of this many steps
LENGTH_FACTOR = 4


def check(variant, toggle="adamw"):
    check_choice("variant", variant, VARIANTS)
    check_choice("toggle", toggle, TOGGLES)


def settings(variant, toggle="adamw", scale="auto", **overrides) -> dict:
    """Flat settings of a run: the scale's, then the variant's attention options, the toggle, the overrides."""
    check(variant, toggle)
    s = dict(SCALE_SETTINGS[resolve_scale(scale)]) | BASE_TRAIN | VARIANTS[variant] | TOGGLES[toggle]
    valid = set(s) | {f.name for f in dataclasses.fields(BERTConfig)}
    valid |= {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(overrides) - valid
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid ones are {sorted(valid)}")
    return s | overrides


@functools.lru_cache(maxsize=2)
def prepare_data(n_train_tokens, n_types, max_len, batch_size, n_floor, n_floor_long, data_seed=0):
    """Corpus, tokenizer (with ``<MASK>``), the MLM floor at the trained length and at up to 4x it, and the
    unigram baseline on the same targets (cached per process)."""
    corpus = D.load_corpus("synthetic", n_train_tokens=n_train_tokens, n_types=n_types, seed=data_seed)
    tok = corpus.tokenizer(max_size=None).with_mask()           # the whole lexicon: no <UNK>, the floor is exact
    train_ids = [tok.encode(s, add_special=True) for s in corpus.train]
    dev, lang = corpus.dev + corpus.test, corpus.language                    # held out: the floor's sentences
    short = D.floor_positions(dev, n_floor, max_words=max_len - 2, seed=1)              # + <START>, <STOP>
    long_ok = [s if max_len - 2 < len(s) <= LENGTH_FACTOR * max_len - 2 else [] for s in dev]
    long = D.floor_positions(long_ok, n_floor_long, seed=2)
    counts = Counter(w for s in corpus.train for w in s)
    total = sum(counts.values()) + len(lang.vocabulary())
    unigram = lambda pos, sents: -sum(math.log((counts[sents[i][t]] + 1) / total) for i, t in pos) / len(pos)
    return {"tok": tok, "train_ids": train_ids, "language": lang,
            "short": {"batches": D.floor_batches(dev, short, tok), "floor": D.mlm_floor(dev, short, lang).loss,
                      "unigram": unigram(short, dev)},
            "long": {"batches": D.floor_batches(long_ok, long, tok), "floor": D.mlm_floor(long_ok, long, lang).loss,
                     "unigram": unigram(long, long_ok)}}


def _diverged_at(exc, last_step):
    """The step a ``TrainingDiverged`` names (its ``step`` attribute, else its message), else ``last_step``."""
    step = getattr(exc, "step", None)
    if step is None:
        m = re.search(r"at step (\d+)", str(exc))
        step = int(m.group(1)) if m else last_step
    return int(step)


def loss_spike(losses, window=SPIKE_WINDOW) -> float:
    """The largest rise of the smoothed (moving-average) loss above its lowest value so far, in nats."""
    if len(losses) < window:
        return 0.0
    c = torch.tensor(losses, dtype=torch.float64).cumsum(0)
    smooth = (c[window - 1:] - torch.cat([torch.zeros(1, dtype=torch.float64), c[:-window]])) / window
    return float((smooth - torch.cummin(smooth, 0).values).max())


@torch.no_grad()
def learned_scalars(model) -> dict:
    """Final learned attention scalars, averaged over heads and layers (cosine tau, Minkowski p, ReLU alpha)."""
    vals = {}
    for block in model.blocks:
        sp = block.attn.learned.score_params() | block.attn.learned.normaliser_params()
        for name, key in (("tau", "scale"), ("p", "p"), ("alpha", "alpha")):
            if torch.is_tensor(sp.get(key)):
                vals.setdefault(name, []).append(float(sp[key].float().mean()))
    return {k: sum(v) / len(v) for k, v in vals.items()}


def run(variant, toggle="adamw", lr=1e-3, scale="auto", seed=0, *, progress=False, callback=None, **overrides) -> dict:
    """Train MiniBERT with one attention variant at one learning rate; returns the run's record (a dict)."""
    scale = resolve_scale(scale)
    s = settings(variant, toggle, scale, lr=lr, **overrides)
    d = prepare_data(*(s[k] for k in DATA_KEYS))
    tok = d["tok"]
    seed_everything(seed)
    sentences = D.make_batches(d["train_ids"], batch_size=s["batch_size"], max_len=s["max_len"] - 1,
                               pad_id=tok.pad_id, seed=seed)
    epochs = math.ceil(s["steps"] / len(sentences))
    batches = D.MLMBatches(sentences, tokenizer=tok, mask_id=tok.mask_id, vocab_size=tok.vocab_size,
                           strategy="dynamic", epochs=epochs, seed=seed)
    fields = {f.name for f in dataclasses.fields(BERTConfig)} - {"vocab_size", "block_size", "dropout"}
    mcfg = BERTConfig(**{k: s[k] for k in fields if k in s}, vocab_size=tok.vocab_size, dropout=0.0,
                      block_size=LENGTH_FACTOR * s["max_len"])
    model = MiniBERT(mcfg)
    tfields = {f.name for f in dataclasses.fields(TrainConfig)} - {"progress", "log_every", "device"}
    tcfg = TrainConfig(**{k: s[k] for k in tfields if k in s}, log_every=s["stats_every"], progress=progress,
                       device="cpu" if scale != "paper" else "auto")
    probe = d["short"]["batches"][0]
    stats, seen = [], {"history": None}

    def measure(step):
        device = next(model.parameters()).device
        st = attention_stats(model, probe.idx.to(device), probe.pad_mask.to(device))
        stats.append({"step": step} | {k: st[k] for k in ("max_logit", "entropy", "output_norm")})

    def watch(history):
        seen["history"] = history
        measure(history.step)
        if callback is not None:
            callback(history)

    measure(0)                                                                # the statistics at init
    diverged_step, t0 = None, time.perf_counter()
    try:
        hist = train(model, batches, tcfg, callback=watch)
        losses, steps_run = hist.losses, hist.step
    except TrainingDiverged as exc:
        h = seen["history"]
        losses = list(h.losses) if h is not None else []
        diverged_step = _diverged_at(exc, h.step if h is not None else 0)
        steps_run = diverged_step
    seconds = time.perf_counter() - t0
    record = {"experiment": "stability", "variant": variant, "toggle": toggle, "lr": lr, "scale": scale,
              "seed": seed, "diverged": diverged_step is not None, "diverged_step": diverged_step,
              "steps": s["steps"], "steps_run": steps_run, "train_seconds": seconds,
              "seconds_per_step": seconds / max(1, steps_run),
              "init_loss": sum(losses[:LOSS_EVERY]) / max(1, len(losses[:LOSS_EVERY])) if losses else math.nan,
              "loss_spike": loss_spike(losses), "losses": _every(losses, LOSS_EVERY), "stats": stats,
              "n_params": model.num_params(), "learned": learned_scalars(model),
              "floor": d["short"]["floor"], "unigram": d["short"]["unigram"],
              "long_floor": d["long"]["floor"], "long_unigram": d["long"]["unigram"]}
    if diverged_step is None:
        device = next(model.parameters()).device
        long_probe = d["long"]["batches"][0]
        norms = [attention_stats(model, b.idx.to(device), b.pad_mask.to(device))["output_norm"]
                 for b in (probe, long_probe)]
        record |= {"dev_loss": evaluate(model, d["short"]["batches"], device)["loss"],
                   "long_dev_loss": evaluate(model, d["long"]["batches"], device)["loss"],
                   "output_norm_short": norms[0], "output_norm_long": norms[1]}
    else:
        record |= {"dev_loss": math.nan, "long_dev_loss": math.nan, "output_norm_short": math.nan,
                   "output_norm_long": math.nan}
    record["config"] = json.loads(json.dumps({"model": mcfg.to_dict(), "train": dataclasses.asdict(tcfg),
                                              "data": {k: s[k] for k in DATA_KEYS}}))
    record["model"] = model                                                   # dropped when stored
    return record


def _every(xs, n):
    """Means of consecutive blocks of n values (the stored loss curve), rounded to 4 decimals."""
    return [round(sum(xs[i:i + n]) / len(xs[i:i + n]), 4) for i in range(0, len(xs), n)]


def path_for(scale, variant, toggle="adamw", directory=RESULTS_DIR) -> Path:
    return Path(directory) / f"stability_{scale}_{variant}_{toggle}.json"


def load(scale="cpu", directory=RESULTS_DIR) -> list:
    """Every stored run of a scale's sweep (a list of records, without models)."""
    out = []
    for p in sorted(Path(directory).glob(f"stability_{scale}_*.json")):
        out += json.loads(p.read_text())["runs"]
    return out


def provenance_of(scale="cpu", directory=RESULTS_DIR) -> list:
    """The distinct provenance records of a stored sweep (one per ``sweep`` call that added runs), oldest first."""
    seen = []
    for p in sorted(Path(directory).glob(f"stability_{scale}_*.json")):
        seen += [x for x in json.loads(p.read_text())["provenance"] if x not in seen]
    return sorted(seen, key=lambda x: x["date"])


def grid(scale="cpu", variants=None, toggles=True) -> list:
    """(variant, toggle) cells of the sweep: every variant with AdamW, and the toggles on ``TOGGLED_VARIANTS``."""
    cells = [(v, "adamw") for v in (variants or VARIANTS)]
    if toggles:
        cells += [(v, t) for v in TOGGLED_VARIANTS if v in (variants or VARIANTS) for t in TOGGLES if t != "adamw"]
    return cells


def sweep(scale="cpu", seeds=(0, 1, 2), variants=None, toggles=True, lrs=None, directory=RESULTS_DIR,
          log=print) -> list:
    """Run (or resume) the grid: every cell x learning rate x seed, each run stored as soon as it ends."""
    scale = resolve_scale(scale)
    lrs = tuple(lrs or SCALE_SETTINGS[scale]["lrs"])
    # where the runs of this call come from: the code loaded now, on this machine
    prov = provenance(torch.device("cuda" if scale == "paper" and torch.cuda.is_available() else "cpu"))
    out = []
    for variant, toggle in grid(scale, variants, toggles):
        path = path_for(scale, variant, toggle, directory)
        stored = json.loads(path.read_text()) if path.exists() else {"runs": [], "provenance": []}
        done = {(r["lr"], r["seed"]) for r in stored["runs"]}
        for lr in lrs:
            for seed in seeds:
                if (lr, seed) in done:
                    continue
                r = run(variant, toggle, lr, scale, seed)
                r.pop("model")
                r["sweep_started"] = prov["date"]                       # which provenance entry made it
                stored["runs"].append(r)
                if prov not in stored["provenance"]:
                    stored["provenance"].append(prov)
                stored["runs"].sort(key=lambda r: (r["lr"], r["seed"]))
                write_atomic(path, json.dumps(stored, indent=0, default=float))
                log(f"{variant}/{toggle} lr {lr:g} seed {seed}: " + ("diverged at step "
                    f"{r['diverged_step']}" if r["diverged"] else f"dev loss {r['dev_loss']:.3f} "
                    f"(floor {r['floor']:.3f})") + f", {r['train_seconds']:.1f} s")
        out += stored["runs"]
    return out


def main(argv=None):
    """``python -m minilib.experiments stability --scale cpu``: (re)make Lab 4's stored sweep (resumes)."""
    import argparse
    ap = argparse.ArgumentParser(prog="python -m minilib.experiments stability",
                                 description="Lab 4's learning-rate sweep; stored in minilib/reference_runs/.")
    ap.add_argument("--scale", default="cpu", choices=list(SCALE_SETTINGS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=None)
    ap.add_argument("--no-toggles", action="store_true", help="skip the optimiser toggles on cosine attention")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: the models are tiny, and a shared CPU punishes more)")
    args = ap.parse_args(argv)
    tune_cpu()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    runs = sweep(args.scale, tuple(args.seeds), args.variants, not args.no_toggles)
    print(f"{len(runs)} runs stored; this call took {time.perf_counter() - t0:.0f} s")
