"""Cross-entropy over the masked positions (targets -100 elsewhere), computed from a stable log-softmax.

``loss = -mean over targeted positions of log softmax(logits)[target]``. Its gradient with
respect to the logits is ``(softmax(logits) - onehot(target)) / n`` at targeted positions
and 0 elsewhere, with ``n`` the number of targets.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .softmax import log_softmax

IGNORE = -100


class LossCache(NamedTuple):
    logp: np.ndarray        # log-probabilities [..., V]
    targets: np.ndarray     # [...], IGNORE where nothing is predicted
    n: int                  # number of targets


def cross_entropy(logits, targets, ignore_index=IGNORE):
    """Mean cross-entropy over the positions whose target is not ``ignore_index``. Returns ``(loss, cache)``."""
    valid = targets != ignore_index
    n = int(valid.sum())
    if n == 0:
        raise ValueError("no targets to score: every target is -100 (mask at least one token per batch)")
    if targets[valid].min() < 0 or targets[valid].max() >= logits.shape[-1]:
        raise ValueError(f"targets must be token ids in [0, {logits.shape[-1]}) or {ignore_index}")
    logp = log_softmax(logits)
    picked = np.take_along_axis(logp, np.where(valid, targets, 0)[..., None], -1)[..., 0]
    return -(picked * valid).sum() / n, LossCache(logp, np.where(valid, targets, ignore_index), n)


def cross_entropy_backward(cache: LossCache, dloss=1.0):
    """``dL/dlogits``: ``(softmax - onehot) / n`` at targeted positions, 0 elsewhere."""
    logp, targets, n = cache
    valid = targets != IGNORE
    d = np.exp(logp) * valid[..., None]
    rows = np.nonzero(valid)
    d[(*rows, targets[valid])] -= 1.0
    return d * (dloss / n)
