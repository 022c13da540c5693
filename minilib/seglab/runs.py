"""Segmentation runs: train a ``BiLSTMSegmenter`` epoch by epoch with early stopping, score it, save it.

    from minilib.seglab import run
    r = run("attention", scale="smoke", seed=0)
    r.best_dev_f1, r.test["f1"], r.calibration["all"]["temperature"]["ece"]

One function trains and measures; the lab panel, the stored reference runs and a plain
Python session all call it. Each step is ``minilib.train.train_step`` (AdamW from
``make_optimizer``, clipping), the learning rate ``lr_at`` (cosine over ``max_epochs``); what
is added here is the epoch: a dev evaluation after each, early stopping when dev F1 has not
improved for ``patience`` epochs (the best weights are restored), and a checkpoint per epoch
to resume from. A run is determined by (variant, scale, seed, overrides); the streams depend
only on the scale, so every variant and seed of a scale sees the same data.

Scales (the task, ``SegmentationTask()``, is the same at every scale):

- ``smoke``: a tiny model for tests (seconds);
- ``cpu``: the book's scale, hidden 64 and 4 heads (the seed's 2 layers, 60-d inputs,
  dropout, smoothing and lambda), minutes on 2 cores;
- ``paper``: the seed's configuration exactly (2,755,842 parameters, batch 24, lr 4e-4
  cosine, label smoothing 0.1, lambda 0.08, patience 20; up to 150 epochs), for a GPU.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..choices import check_choice
from ..data.segmentation import (SegmentationTask, hashed_features, make_streams, segmentation_batches,
                                 task_tokenizer)
from ..device import pick_device, seed_everything, tune_cpu
from ..files import write_atomic
from ..metrics.segmentation import boundary_prf
from ..metrics.calibration import nll, sigmoid
from ..models.segmenter import BiLSTMSegmenter, SegmenterConfig, attention_entropy
from ..provenance import provenance
from ..results import RESULTS_DIR, StoredRun
from ..scale import resolve_scale
from ..train import TrainConfig, TrainingDiverged, lr_at, make_optimizer, train_step
from .evaluate import bayes_reference, predict_logits, score_model

VARIANTS = {"attention": {"attention": True},
            "no_attention": {"attention": False},
            "attention_lambda0": {"attention": True, "entropy_lambda": 0.0}}
_COMMON = dict(d_input=60, n_layers=2, attn_dropout=0.15, label_smoothing=0.1, entropy_lambda=0.08)
SCALE_SETTINGS = {
    "smoke": dict(_COMMON, n_train=96, n_dev=32, n_test=48, hidden=24, n_head=2, d_attn=24, batch_size=8,
                  lr=1e-2, max_epochs=4, patience=4, threads=1),
    "cpu": dict(_COMMON, n_train=600, n_dev=150, n_test=400, hidden=32, n_head=4, d_attn=32, batch_size=32,
                lr=2e-3, max_epochs=30, patience=20, threads=1),
    "paper": dict(_COMMON, n_train=4000, n_dev=500, n_test=1000, hidden=256, n_head=8, d_attn=256, batch_size=24,
                  lr=4e-4, max_epochs=150, patience=20, threads=0),
}
DATA_KEYS = ("n_train", "n_dev", "n_test")
MODEL_KEYS = tuple(f.name for f in dataclasses.fields(SegmenterConfig) if f.name != "vocab_size")
TRAIN_KEYS = ("lr", "batch_size", "max_epochs", "patience", "weight_decay", "grad_clip", "warmup", "min_lr_ratio",
              "threads")
TRAIN_DEFAULTS = dict(weight_decay=0.01, grad_clip=1.0, warmup=0.0, min_lr_ratio=0.0)
EXPERIMENT = "segmentation"


def scale_note(scale) -> str:
    """One line saying what a scale means: model size, data and schedule."""
    s = SCALE_SETTINGS[resolve_scale(scale)]
    n = BiLSTMSegmenter(SegmenterConfig(**{k: s[k] for k in MODEL_KEYS if k in s}, vocab_size=1),
                        torch.zeros(1, s["d_input"])).num_params()
    return (f"`{scale}` scale: BiLSTM {s['n_layers']} x {s['hidden']} per direction, attention {s['n_head']} heads of "
            f"{s['d_attn'] // s['n_head']} ({n:,} parameters with attention), {s['n_train']:,} training streams, "
            f"batch {s['batch_size']}, lr {s['lr']:g} cosine, up to {s['max_epochs']} epochs, patience {s['patience']}")


def settings(variant, scale="auto", **overrides) -> dict:
    """The flat settings of a run: the scale's, then the variant's, then ``overrides``."""
    check_choice("variant", variant, VARIANTS)
    s = dict(TRAIN_DEFAULTS) | SCALE_SETTINGS[resolve_scale(scale)] | VARIANTS[variant]
    unknown = set(overrides) - set(s) - set(MODEL_KEYS) - set(TRAIN_KEYS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid ones are {sorted(set(s) | set(MODEL_KEYS))}")
    return s | overrides


def prepare(n_train, n_dev, n_test, task: SegmentationTask | None = None) -> dict:
    """The task's streams (dev/test with the Bayes posterior), tokenizer, features and Bayes reference."""
    task = task or SegmentationTask()
    tok = task_tokenizer(task)
    dev, test = make_streams(task, "dev", n_dev), make_streams(task, "test", n_test)
    return {"task": task, "tok": tok, "train": make_streams(task, "train", n_train), "dev": dev, "test": test,
            "bayes": bayes_reference(task, dev, test)}


@dataclass
class SegRun(StoredRun):
    """One segmentation run, as stored in ``minilib/reference_runs/segmentation_<variant>_<scale>_seed<n>.json``."""
    variant: str
    scale: str
    seed: int
    config: dict                    # model, train, task and data settings, as run
    n_params: int
    param_counts: dict              # lstm / attention / classifier
    provenance: dict
    train_seconds: float
    history: list                   # per epoch: epoch, train_loss, dev_loss, dev_f1, lr, seconds
    best_epoch: int                 # 1-based, the weights kept
    best_dev_f1: float
    stopped_early: bool
    test: dict                      # precision, recall, f1, pk, windowdiff at p > 0.5
    calibration: dict               # {"all"|"candidates": {"raw"|"temperature"|"platt": report, "fit": ...}}
    reliability: dict               # candidates: bins for raw / temperature / platt
    bayes: dict                     # the same numbers for the true posterior on the same test streams
    attn_entropy: float = float("nan")   # R (see models.segmenter) on the test streams, best weights
    experiment: str = EXPERIMENT

    @property
    def test_f1(self) -> float:
        return self.test["f1"]

    def curve(self, key="dev_f1") -> list:
        return [h[key] for h in self.history]

    @staticmethod
    def path_for(variant, scale, seed) -> Path:
        return StoredRun.path_for(EXPERIMENT, variant, scale, seed)


def load_runs(variant=None, scale=None, directory=RESULTS_DIR) -> list:
    """Stored segmentation runs matching the filters, sorted by variant, scale, seed."""
    runs = [SegRun.load(p) for p in sorted(Path(directory).glob(f"{EXPERIMENT}_*.json"))]
    runs = [r for r in runs if variant in (None, r.variant) and scale in (None, r.scale)]
    return sorted(runs, key=lambda r: (r.variant, r.scale, r.seed))


def _save_checkpoint(path, state):
    buf = io.BytesIO()
    torch.save(state, buf)
    write_atomic(path, buf.getvalue())


def _dev_scores(model, dev, tok):
    z = predict_logits(model, dev, tok)
    labels = [s.labels for s in dev]
    f1 = boundary_prf([x > 0 for x in z], labels)["f1"]
    return f1, nll(sigmoid(np.concatenate(z)), np.concatenate(labels))


@contextlib.contextmanager
def cpu_threads(n, device):
    """Use ``n`` CPU threads inside the block (0 or a GPU: leave the setting alone), then restore it.

    The LSTM is many small matrix products, one per token and layer: a second thread gains
    little there, and on a busy 2-core machine its synchronisation made steps 3-10x slower
    than one thread (measured while other jobs ran), so the CPU scales train on one.
    """
    if device.type == "cpu":
        tune_cpu()                    # its one-time thread choice first, so it cannot override ours
    before = torch.get_num_threads()
    if n and device.type == "cpu":
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(model, data, s, seed, *, device=None, callback=None, progress=True, checkpoint=None):
    """Train with early stopping on dev F1; returns ``(history, best_epoch, stopped_early, seconds)``
    and leaves the best weights in ``model``. ``callback(history)`` runs after every epoch."""
    device = device or pick_device()
    with cpu_threads(s.get("threads", 0), device):
        return _fit(model, data, s, seed, device, callback, progress, checkpoint)


def _fit(model, data, s, seed, device, callback, progress, checkpoint):
    model.to(device)
    n_batches = len(segmentation_batches(data["train"], data["tok"], s["batch_size"]))
    tcfg = TrainConfig(lr=s["lr"], steps=s["max_epochs"] * n_batches, warmup=s["warmup"],
                       min_lr_ratio=s["min_lr_ratio"], weight_decay=s["weight_decay"], grad_clip=s["grad_clip"],
                       progress=progress)
    opt = make_optimizer(model, tcfg, device)
    state = {"history": [], "best": None, "best_f1": -1.0, "bad": 0, "seconds": 0.0}
    if checkpoint and os.path.exists(checkpoint):
        ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        torch.set_rng_state(ck["rng"])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=s["max_epochs"], initial=len(state["history"]), desc="epochs", unit="epoch")
    try:
        while len(state["history"]) < s["max_epochs"] and state["bad"] < s["patience"]:
            epoch = len(state["history"])
            t0 = time.perf_counter()
            model.train()
            batches = segmentation_batches(data["train"], data["tok"], s["batch_size"], shuffle=True,
                                           seed=seed * 100_003 + epoch)
            losses = []
            for i, b in enumerate(batches):
                lr = lr_at(epoch * n_batches + i, tcfg.steps, tcfg)
                for g in opt.param_groups:
                    g["lr"] = lr
                losses.append(train_step(model, opt, tuple(t.to(device) for t in b), tcfg, device))
            train_loss = torch.stack(losses).float().mean().item()
            if not math.isfinite(train_loss):
                raise TrainingDiverged(f"loss became {train_loss} in epoch {epoch + 1}: training diverged. "
                                       "Lower the learning rate (e.g. by 3-10x) or keep grad_clip=1.0.")
            dev_f1, dev_loss = _dev_scores(model, data["dev"], data["tok"])
            state["seconds"] += time.perf_counter() - t0
            state["history"].append({"epoch": epoch + 1, "train_loss": train_loss, "dev_loss": dev_loss,
                                     "dev_f1": dev_f1, "lr": lr, "seconds": state["seconds"]})
            if dev_f1 > state["best_f1"]:
                state.update(best_f1=dev_f1, bad=0, best=copy.deepcopy({k: v.cpu() for k, v in
                                                                        model.state_dict().items()}))
            else:
                state["bad"] += 1
            if checkpoint:
                _save_checkpoint(checkpoint, {"model": model.state_dict(), "opt": opt.state_dict(), "state": state,
                                              "rng": torch.get_rng_state()})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(dev_f1=f"{dev_f1:.3f}", best=f"{state['best_f1']:.3f}", loss=f"{train_loss:.3f}")
            if callback is not None:
                callback(state["history"])
    finally:
        if bar is not None:
            bar.close()
    model.load_state_dict(state["best"])
    best_epoch = 1 + max(range(len(state["history"])), key=lambda e: (state["history"][e]["dev_f1"], -e))
    stopped = len(state["history"]) < s["max_epochs"]
    return state["history"], best_epoch, stopped, state["seconds"]


def build_model(s, tok) -> BiLSTMSegmenter:
    cfg = SegmenterConfig(vocab_size=tok.vocab_size, **{k: s[k] for k in MODEL_KEYS if k in s})
    return BiLSTMSegmenter(cfg, hashed_features(tok.itos, cfg.d_input))


@torch.no_grad()
def entropy_on(model, streams, tok, batch_size=64) -> float:
    """R on the streams (the regulariser's value, whatever lambda was), or nan without attention."""
    if not model.config.attention:
        return float("nan")
    device, vals, n = next(model.parameters()).device, 0.0, 0
    for b in segmentation_batches(streams, tok, batch_size, sort=False):
        w = model.attention_weights(b.idx.to(device), b.pad_mask.to(device))
        vals += float(attention_entropy(w, b.pad_mask.to(device))) * len(b.idx)
        n += len(b.idx)
    return vals / n


def run(variant="attention", scale="auto", seed=0, *, callback=None, progress=True, checkpoint=None,
        **overrides) -> SegRun:
    """Train one variant at one scale and seed; score it on the test streams. Returns a ``SegRun``
    (the trained model and tokenizer ride along as ``.model`` and ``.tok``, not saved)."""
    scale = resolve_scale(scale)
    s = settings(variant, scale, **overrides)
    data = prepare(*(s[k] for k in DATA_KEYS))
    seed_everything(seed)
    model = build_model(s, data["tok"])
    device = pick_device()
    with cpu_threads(s["threads"], device):
        history, best_epoch, stopped, seconds = fit(model, data, s, seed, device=device, callback=callback,
                                                    progress=progress, checkpoint=checkpoint)
        z_dev, z_test = (predict_logits(model, data[k], data["tok"]) for k in ("dev", "test"))
        scored = score_model(z_dev, data["dev"], z_test, data["test"], data["task"].joiner)
        entropy = entropy_on(model, data["test"], data["tok"])
        prov = provenance(device)                          # inside: it records the threads training used
    result = SegRun(
        variant=variant, scale=scale, seed=seed,
        config=json.loads(json.dumps({"model": model.config.to_dict(), "task": data["task"].to_dict(),
                                      "train": {k: s[k] for k in TRAIN_KEYS},
                                      "data": {k: s[k] for k in DATA_KEYS}})),
        n_params=model.num_params(), param_counts=model.param_counts(), provenance=prov,
        train_seconds=seconds, history=history, best_epoch=best_epoch,
        best_dev_f1=history[best_epoch - 1]["dev_f1"], stopped_early=stopped, test=scored["test"],
        calibration=scored["calibration"], reliability=scored["reliability"], bayes=data["bayes"],
        attn_entropy=entropy)
    result.model, result.tok, result.data = model, data["tok"], data
    return result


def main(argv=None):
    """``python -m minilib.seglab --scale cpu --seeds 0 1 2``: (re)make the stored reference runs."""
    from ..experiments.cli import parser, store_runs
    args = parser("python -m minilib.seglab", "Rerun the segmentation runs and store them in "
                  "minilib/reference_runs/.", VARIANTS, scales=list(SCALE_SETTINGS)).parse_args(argv)
    store_runs(args.seeds, lambda seed: [(SegRun.path_for(v, args.scale, seed),
                                          functools.partial(run, v, args.scale, seed)) for v in args.variants],
               skip_existing=args.skip_existing,
               describe=lambda r: f"{len(r.history)} epochs (best {r.best_epoch}), {r.train_seconds:.0f} s, "
               f"test F1 {r.test['f1']:.3f} (Bayes {r.bayes['at_best']['f1']:.3f}), "
               f"ECE {r.calibration['all']['raw']['ece']:.4f}")
