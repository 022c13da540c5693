"""Exercises of Lab 5 ("Does attention help a BiLSTM, and can we trust its confidence?")."""
from __future__ import annotations

import numpy as np

from ..metrics.calibration import ece
from .feedback import feedback, verdict


def _cases(seed=0):
    rng = np.random.default_rng(seed)
    for n, bins in ((500, 15), (2000, 15), (300, 7)):
        p = rng.beta(0.6, 1.5, n) * 0.999
        y = (rng.random(n) < np.clip(1.4 * p - 0.1, 0, 1)).astype(float)
        yield p, y, bins


def check_ece(fn) -> bool:
    """``fn(probs, labels, n_bins) -> float``: the binned ECE, tested against ``minilib.metrics.calibration.ece``
    (itself tested against torchmetrics) on three data sets, one with 7 bins."""
    if fn is None:
        feedback("Not answered yet. Hint: put each probability in one of n_bins equal-width bins of [0, 1]; "
                 "per bin take |mean probability - share of labels that are 1|; weight by the bin's share of tokens.")
        return False
    for p, y, bins in _cases():
        try:
            got = float(fn(p, y, bins))
        except NotImplementedError:
            feedback("Not implemented yet.")
            return False
        want = ece(p, y, bins)
        if abs(got - want) > 1e-9:
            hint = ("Did you weight each bin by its share of the tokens (empty bins weigh nothing)?"
                    if abs(got - want) > 0.01 else "Close: check which bin a probability on an edge falls into "
                    "(bin i holds [i/n, (i+1)/n)).")
            return verdict(False, "", f"Got {got:.5f}, expected {want:.5f} ({len(p)} tokens, {bins} bins). {hint}")
    return verdict(True, f"Correct on all three sets (e.g. {want:.4f} with {bins} bins).", "")


def expected_precision(posteriors, threshold) -> float:
    """What the posterior itself predicts the precision of "boundary where p > threshold" to be."""
    p = np.concatenate([np.asarray(x, dtype=float) for x in posteriors])
    picked = p[p > threshold]
    return float(picked.mean()) if picked.size else float("nan")


def check_expected_precision(fn, streams, threshold=0.5) -> bool:
    """``fn(posteriors, threshold) -> float``: the precision the Bayes posterior *expects* of its own decisions,
    computed from the posteriors alone (no labels): the mean posterior over the tokens it picks."""
    if fn is None:
        feedback("Not answered yet. Hint: a token picked with posterior p is a true boundary with probability p; "
                 "the expected share of true boundaries among the picked tokens is the mean p over them.")
        return False
    post = [s.posterior for s in streams]
    want = expected_precision(post, threshold)
    got = float(fn(post, threshold))
    measured = float(np.mean([y for s in streams for p, y in zip(s.posterior, s.labels) if p > threshold]))
    if abs(got - measured) < 1e-12 and abs(got - want) > 1e-9:
        return verdict(False, "", "That is the measured precision: it uses the labels. Compute it from the "
                                  "posteriors alone.")
    return verdict(abs(got - want) < 1e-9,
                   f"Correct: the posterior expects precision {want:.3f}; measured on these streams {measured:.3f}. "
                   "A calibrated model predicts its own precision.",
                   f"Got {got:.4f}, expected {want:.4f}: average the posteriors of the picked tokens (p > threshold).")
