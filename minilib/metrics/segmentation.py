"""Segmentation metrics: boundary precision/recall/F1, Pk and WindowDiff.

A segmentation is a 0/1 sequence over tokens: 1 where a segment ends right after the token.

- ``boundary_prf``: exact-position precision, recall and F1 of the 1s, pooled over all
  streams (micro average: every boundary counts once, long streams count more).
- ``pk`` (Beeferman et al., 1999) and ``windowdiff`` (Pevzner & Hearst, 2002) slide a window of
  ``k`` consecutive labels along both sequences; Pk counts windows where one sequence has a
  boundary and the other none, WindowDiff windows where their numbers of boundaries differ.
  Both are error rates (0 = perfect) that give partial credit for near misses. The window
  convention (``N - k + 1`` windows of ``k`` labels; default ``k`` = half the mean reference
  segment length, rounded) is ``nltk.metrics.segmentation``'s, which the tests compare against.
- ``segmentation_scores``: all of them over a list of streams (Pk and WindowDiff averaged
  over streams, each with its own ``k``).
"""
from __future__ import annotations

import numpy as np


def _as_array(x):
    a = np.asarray(x)
    return (a == "1") if a.dtype.kind in "US" else a.astype(bool)


def boundary_prf(pred, gold) -> dict:
    """Precision, recall, F1 (and tp, fp, fn) of predicted boundaries; ``pred``/``gold`` are 0/1
    sequences or lists of them (streams), pooled. F1 is 0 when there is nothing to find or find."""
    if len(pred) and np.ndim(pred[0]) == 1:
        pred, gold = np.concatenate([_as_array(p) for p in pred]), np.concatenate([_as_array(g) for g in gold])
    p, g = _as_array(pred), _as_array(gold)
    if p.shape != g.shape:
        raise ValueError(f"pred and gold must have the same length, got {p.shape} and {g.shape}")
    tp, fp, fn = int((p & g).sum()), int((p & ~g).sum()), int((~p & g).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def default_k(ref) -> int:
    """Half the mean segment length of the reference: round(N / (2 * number of boundaries))."""
    r = _as_array(ref)
    return int(round(len(r) / (max(int(r.sum()), 1) * 2.0)))


def _window_counts(x, k):
    """Number of boundaries in each window x[i : i + k], i = 0 .. N - k."""
    c = np.concatenate([[0], np.cumsum(x, dtype=np.int64)])
    return c[k:] - c[:-k] if k > 0 else np.zeros(len(x) + 1, dtype=np.int64)


def _check(ref, hyp, k):
    r, h = _as_array(ref), _as_array(hyp)
    if r.shape != h.shape:
        raise ValueError(f"segmentations have unequal length: {len(r)} and {len(h)}")
    if k is not None and not 0 <= k <= len(r):
        raise ValueError(f"window width k must be in [0, {len(r)}] (the sequence length), got {k}")
    return r, h


def pk(ref, hyp, k=None) -> float:
    """Share of windows of ``k`` labels where exactly one of ref and hyp has a boundary."""
    r, h = _check(ref, hyp, k)
    k = default_k(r) if k is None else k
    return float(((_window_counts(r, k) > 0) != (_window_counts(h, k) > 0)).mean())


def windowdiff(ref, hyp, k=None, weighted=False) -> float:
    """Share of windows of ``k`` labels where ref and hyp hold different numbers of boundaries
    (``weighted``: the mean absolute difference of those numbers instead)."""
    r, h = _check(ref, hyp, k)
    k = default_k(r) if k is None else k
    d = np.abs(_window_counts(r, k) - _window_counts(h, k))
    return float((d if weighted else np.minimum(d, 1)).mean())


def segmentation_scores(pred_streams, gold_streams) -> dict:
    """Pooled boundary P/R/F1, and Pk and WindowDiff averaged over streams (each stream's own k)."""
    if len(pred_streams) != len(gold_streams) or not gold_streams:
        raise ValueError("need the same, non-zero number of predicted and gold streams")
    out = boundary_prf(pred_streams, gold_streams)
    out["pk"] = float(np.mean([pk(g, p) for p, g in zip(pred_streams, gold_streams)]))
    out["windowdiff"] = float(np.mean([windowdiff(g, p) for p, g in zip(pred_streams, gold_streams)]))
    return out
