"""Calibration of binary probabilities: ECE, NLL, Brier, reliability bins, temperature and Platt scaling.

A model is calibrated when, among the tokens it gives probability p, a share p are positive.

- ``ece``: expected calibration error with equal-width bins (15 by default): the bins'
  |mean predicted probability - share of positives|, weighted by how many predictions fall
  in each. This is the binary definition of ``torchmetrics`` (the probability of the
  positive class is binned, not the top-class confidence); the tests compare the two.
- ``nll`` (mean negative log-likelihood, nats) and ``brier`` (mean squared error of the
  probability): proper scores, so the true posterior minimises both in expectation.
- ``fit_temperature``: one scalar T > 0, p = sigmoid(z / T), fitted by L-BFGS on the NLL
  of held-out data. Dividing by T > 0 keeps the sign of z, so no decision at 0.5 changes:
  accuracy is unchanged (asserted).
- ``fit_platt``: p = sigmoid(a z + b), two scalars fitted the same way (Platt, 1999); the
  bias b can move the 0.5 threshold, so decisions may change.

``z`` is a binary logit: log p(positive) - log p(negative).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-12


def _arrays(probs, labels):
    p, y = np.asarray(probs, dtype=np.float64).ravel(), np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"probs and labels must be non-empty and of the same length, got {p.size} and {y.size}")
    if p.min() < 0 or p.max() > 1:
        raise ValueError("probs must lie in [0, 1] (apply a sigmoid to logits first)")
    return p, y


def reliability_bins(probs, labels, n_bins: int = 15) -> dict:
    """Per equal-width bin: count, mean predicted probability, share of positives (nan if empty)."""
    p, y = _arrays(probs, labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)   # [i/n, (i+1)/n); 1.0 -> last
    count = np.bincount(b, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(b, weights=p, minlength=n_bins) / count
        freq = np.bincount(b, weights=y, minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": conf, "frequency": freq}


def ece(probs, labels, n_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of (share of predictions) * |mean p - share of positives|."""
    r = reliability_bins(probs, labels, n_bins)
    m = r["count"] > 0
    return float(np.sum(r["count"][m] / r["count"].sum() * np.abs(r["confidence"][m] - r["frequency"][m])))


def nll(probs, labels) -> float:
    """Mean negative log-likelihood (nats) of the labels under the probabilities (clipped at 1e-12)."""
    p, y = _arrays(probs, labels)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def brier(probs, labels) -> float:
    """Mean squared difference between the probability and the 0/1 label."""
    p, y = _arrays(probs, labels)
    return float(np.mean((p - y) ** 2))


def accuracy(probs, labels) -> float:
    """Share of tokens where the decision p > 0.5 equals the label."""
    p, y = _arrays(probs, labels)
    return float(np.mean((p > 0.5) == (y > 0.5)))


def calibration_report(probs, labels, n_bins: int = 15) -> dict:
    """ECE, NLL, Brier, accuracy and the number of tokens, in one dict."""
    return {"ece": ece(probs, labels, n_bins), "nll": nll(probs, labels), "brier": brier(probs, labels),
            "accuracy": accuracy(probs, labels), "n": int(np.size(probs))}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def _lbfgs(params, loss_fn, steps=100):
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    opt.step(closure)


def _tensors(logits, labels):
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64).ravel())
    y = torch.as_tensor(np.asarray(labels, dtype=np.float64).ravel())
    if z.shape != y.shape or z.numel() == 0:
        raise ValueError(f"logits and labels must be non-empty and of the same length, got {z.numel()} and {y.numel()}")
    return z, y


@dataclass
class Scaling:
    """A fitted recalibration p = sigmoid(a * z + b): temperature scaling has a = 1 / T, b = 0."""
    kind: str
    a: float
    b: float = 0.0

    @property
    def temperature(self) -> float:
        return 1.0 / self.a

    def __call__(self, logits):
        return sigmoid(self.a * np.asarray(logits, dtype=np.float64) + self.b)


def fit_temperature(logits, labels) -> Scaling:
    """The temperature T > 0 minimising the NLL of sigmoid(z / T) (L-BFGS on log T, from T = 1).

    The decisions (z > 0) cannot change, and this is asserted."""
    z, y = _tensors(logits, labels)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    _lbfgs([log_t], lambda: F.binary_cross_entropy_with_logits(z / log_t.exp(), y))
    s = Scaling("temperature", float(torch.exp(-log_t.detach())))
    before, after = sigmoid(z.numpy()) > 0.5, s(z.numpy()) > 0.5
    assert (before == after).all(), "temperature scaling changed a decision"
    return s


def fit_platt(logits, labels) -> Scaling:
    """Platt scaling: a and b minimising the NLL of sigmoid(a z + b) (L-BFGS from a = 1, b = 0)."""
    z, y = _tensors(logits, labels)
    a = torch.ones((), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    _lbfgs([a, b], lambda: F.binary_cross_entropy_with_logits(a * z + b, y))
    return Scaling("platt", float(a.detach()), float(b.detach()))
