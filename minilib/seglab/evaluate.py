"""Scoring a segmenter (or the Bayes posterior) on streams: boundaries, Pk/WindowDiff, calibration.

Calibration is measured on two sets of tokens, because they tell different stories:

- ``"all"``: every real token. Almost all of them are certainly not boundaries (the
  posterior is exactly 0 there), so this number mostly says how close to 0 a model puts
  the easy tokens; label smoothing (0.1) keeps it away from 0 on purpose.
- ``"candidates"``: only the joiner tokens (``and``), where a boundary is possible and the
  true posterior lies anywhere in [0, 1]: the part of the task with real uncertainty.

Temperature and Platt scaling are fitted on the dev streams (separately per set) and
measured on the test streams.
"""
from __future__ import annotations

import numpy as np
import torch

from ..data.segmentation import segmentation_batches
from ..metrics.calibration import calibration_report, fit_platt, fit_temperature, reliability_bins, sigmoid
from ..metrics.segmentation import boundary_prf, segmentation_scores
from ..models.segmenter import boundary_logits

POSITION_SETS = ("all", "candidates")


@torch.no_grad()
def predict_logits(model, streams, tok, batch_size=64) -> list:
    """The binary logit z (log p(boundary) - log p(none)) of every token, one array per stream, in order."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for b in segmentation_batches(streams, tok, batch_size, sort=False):
        logits, _ = model(b.idx.to(device), pad_mask=b.pad_mask.to(device))
        z = boundary_logits(logits.float()).cpu().numpy()
        n = b.pad_mask.sum(-1).tolist()
        out += [z[r, :n[r]].astype(np.float64) for r in range(len(n))]
    return out


def _positions(streams, joiner, which):
    """A boolean mask over the concatenated tokens: all of them, or the candidates only."""
    if which == "all" or joiner is None:
        return np.ones(sum(len(s.tokens) for s in streams), dtype=bool)
    return np.concatenate([np.asarray(s.tokens) == joiner for s in streams])


def _flat(streams, attr):
    return np.concatenate([np.asarray(getattr(s, attr), dtype=np.float64) for s in streams])


def bayes_reference(task, dev, test, n_bins=15) -> dict:
    """What a perfect reader scores on the test streams: decisions from the true posterior at 0.5
    and at the threshold that maximises F1 on the dev streams; calibration of the posterior itself."""
    grid = np.round(np.arange(0.05, 1.0, 0.05), 2)
    dev_post, dev_gold = [np.asarray(s.posterior) for s in dev], [s.labels for s in dev]
    dev_f1 = [boundary_prf([p > t for p in dev_post], dev_gold)["f1"] for t in grid]
    thr = float(grid[int(np.argmax(dev_f1))])
    post, gold = [np.asarray(s.posterior) for s in test], [s.labels for s in test]
    out = {"at_0.5": segmentation_scores([p > 0.5 for p in post], gold),
           "f1_threshold": thr, "at_best": segmentation_scores([p > thr for p in post], gold),
           "trivial": segmentation_scores([np.asarray(s.tokens) == task.joiner for s in test], gold)
           if task.joiner else None}
    p, y = _flat(test, "posterior"), _flat(test, "labels")
    for which in POSITION_SETS:
        m = _positions(test, task.joiner, which)
        out[which] = calibration_report(np.clip(p[m], 0, 1), y[m], n_bins)
    m = _positions(test, task.joiner, "candidates")
    out["reliability"] = _bins(np.clip(p[m], 0, 1), y[m], n_bins)
    return out


def _bins(p, y, n_bins):
    r = reliability_bins(p, y, n_bins)
    return {k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in r.items()}


def score_model(z_dev, dev, z_test, test, joiner, n_bins=15) -> dict:
    """Test-set boundary scores at p > 0.5, and calibration before/after temperature and Platt
    scaling (fitted on dev) for both position sets; reliability bins on the candidates."""
    out = {"test": segmentation_scores([z > 0 for z in z_test], [s.labels for s in test])}
    zd, yd, zt, yt = np.concatenate(z_dev), _flat(dev, "labels"), np.concatenate(z_test), _flat(test, "labels")
    cal, rel = {}, {}
    for which in POSITION_SETS:
        md, mt = _positions(dev, joiner, which), _positions(test, joiner, which)
        temp, platt = fit_temperature(zd[md], yd[md]), fit_platt(zd[md], yd[md])
        probs = {"raw": sigmoid(zt[mt]), "temperature": temp(zt[mt]), "platt": platt(zt[mt])}
        cal[which] = {k: calibration_report(p, yt[mt], n_bins) for k, p in probs.items()}
        cal[which]["fit"] = {"temperature": temp.temperature, "platt_a": platt.a, "platt_b": platt.b}
        if which == "candidates":
            rel = {k: _bins(p, yt[mt], n_bins) for k, p in probs.items()}
    out["calibration"], out["reliability"] = cal, rel
    return out



def head_focus(weights, one_token=(0.9, 0.5), near_uniform=3.0) -> list:
    """What each head of one stream's attention ``weights`` [heads, T, T] looks at, one dict per head:
    ``key`` (the key most queries weigh hardest), ``share`` (the share of queries whose hardest key it is),
    ``mean_max`` (the mean of each query's largest weight), ``uniform`` (1/T, every query's largest weight
    under uniform attention) and ``kind``:

    - "one token": at least ``one_token[0]`` of the queries look hardest at the same key, with a mean
      largest weight of at least ``one_token[1]``: the head reads that one token for the whole stream;
    - "near uniform": a mean largest weight below ``near_uniform`` / T;
    - "leaning on one token": the same key for at least ``one_token[0]`` of the queries, weakly;
    - "mixed": anything else (queries look hardest at different keys)."""
    w = torch.as_tensor(weights).float()
    T = w.shape[-1]
    out = []
    for head in w:
        top = head.argmax(-1)
        key = int(torch.mode(top).values)
        share, mean_max = float((top == key).float().mean()), float(head.max(-1).values.mean())
        kind = ("one token" if share >= one_token[0] and mean_max >= one_token[1]
                else "near uniform" if mean_max < near_uniform / T
                else "leaning on one token" if share >= one_token[0] else "mixed")
        out.append({"key": key, "share": share, "mean_max": mean_max, "uniform": 1 / T, "kind": kind})
    return out


HEAD_SUMMARY = {
    "one token": "every head, from (almost) every query, reads one and the same token: peaked, but not a "
                 "relation between tokens",
    "near uniform": "every head is close to uniform: these heads have not sharpened",
    "leaning on one token": "every head tilts (almost) every query towards one and the same token, but weakly: "
                            "not yet peaked",
    "mixed": "in every head the queries look hardest at different tokens",
}


def describe_heads(focus) -> str:
    """One sentence on ``head_focus``'s result: what all heads share, or how they differ."""
    kinds = [f["kind"] for f in focus]
    return HEAD_SUMMARY[kinds[0]] if len(set(kinds)) == 1 else "the heads differ: " + "; ".join(
        f"head {h}: {k}" for h, k in enumerate(kinds))
