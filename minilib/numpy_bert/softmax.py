"""Softmax over the last axis: the naive formula, the stable one, and its backward.

``softmax_naive`` is the formula as written, ``exp(x) / sum(exp(x))``. It breaks on both ends:
a score above about 88.7 (float32) or 709.8 (float64) makes ``exp`` overflow to inf and the
row becomes inf / inf = nan; a row whose scores are all below about -103 (float32) or -745
(float64) underflows to 0 / 0 = nan. ``softmax`` subtracts each row's maximum first. The
result is the same in exact arithmetic (the factor ``exp(-max)`` cancels), but now the
largest exponent is ``exp(0) = 1``: nothing overflows, and the sum is at least 1.

The backward is a Jacobian-vector product. With ``y = softmax(x)`` the Jacobian is
``diag(y) - y y^T``, so for an upstream gradient ``dy``::

    dx = y * (dy - sum(dy * y))                  # per row; never forms the T x T Jacobian
"""
from __future__ import annotations

import numpy as np


def softmax_naive(x):
    """``exp(x) / sum(exp(x))`` over the last axis: overflows and underflows (see the module docstring)."""
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def softmax(x, mask=None):
    """Stable softmax over the last axis; ``mask`` (bool, broadcastable, True = allowed) removes entries
    *before* the normaliser. A row with nothing allowed gives zeros (not 0 / 0)."""
    x = np.asarray(x)
    if mask is not None:
        x = np.where(mask, x, -np.inf)
    m = x.max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)            # an all-masked row: max is -inf; any finite shift will do
    e = np.exp(x - m)                                # exp(-inf) = 0 exactly
    s = e.sum(-1, keepdims=True)
    return e / np.where(s > 0, s, 1.0).astype(x.dtype)


def softmax_backward(dy, y):
    """Gradient with respect to the softmax's input, given ``y = softmax(x)`` and ``dy = dL/dy``."""
    return y * (dy - (dy * y).sum(-1, keepdims=True))


def log_softmax_naive(x):
    """``log(softmax_naive(x))``: nan where the naive softmax is, and -inf where a probability underflows."""
    with np.errstate(divide="ignore"):
        return np.log(softmax_naive(x))


def log_softmax(x):
    """Stable ``log softmax``: ``x - max - log(sum(exp(x - max)))`` (the log-sum-exp trick)."""
    m = x.max(-1, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(-1, keepdims=True))
