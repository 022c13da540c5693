"""Layer normalisation over the last axis: the one-pass formula, a stable one, and the backward.

``y = gamma * (x - mu) / sqrt(var + eps) + beta`` with the mean ``mu`` and the (biased)
variance ``var`` of each row.

``layer_norm_naive`` computes the variance in one pass, ``var = mean(x**2) - mu**2``. That
subtracts two nearly equal numbers when the row's mean is large compared with its spread
(catastrophic cancellation): in float32, a row ``1000 + noise`` with noise of size 0.01 has
``mean(x**2) = 1e6`` known to about 0.06, while the true variance is 1e-4. The result can
even be negative, and its square root nan. The squares also overflow (float32: |x| > 1.8e19).

``layer_norm`` centres first and squares afterwards (two passes), subtracting the mean of
the centred values once more to cancel the rounding error of the first mean. A row whose
largest magnitude exceeds 1 is first divided by a power of two ``s`` near it (exact in binary
floating point), so no square can overflow; layer norm is scale-invariant apart from ``eps``,
which becomes ``eps / s**2``.

The backward, with ``xhat = (x - mu) * rstd``, ``rstd = 1 / sqrt(var + eps)`` and
``g = dy * gamma``, has three terms (the direct path, through the mean, through the variance)::

    dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LayerNormCache(NamedTuple):
    xhat: np.ndarray      # the normalised input, [..., C]
    rstd: np.ndarray      # 1 / sqrt(var + eps), [..., 1]


def variance_one_pass(x):
    """Each row's variance in one pass, ``E[x^2] - E[x]^2`` (keepdims): what ``layer_norm_naive`` divides by.
    Can come out negative (cancellation) or NaN (``inf - inf`` once the squares overflow)."""
    mu = x.mean(-1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        return (x * x).mean(-1, keepdims=True) - mu * mu


def layer_norm_naive(x, gamma, beta, eps=1e-12):
    """One-pass variance ``E[x^2] - E[x]^2``: cancels when |mean| >> spread, overflows for huge |x|."""
    mu = x.mean(-1, keepdims=True)
    var = variance_one_pass(x)
    with np.errstate(invalid="ignore"):
        return (x - mu) / np.sqrt(var + eps) * gamma + beta


def layer_norm(x, gamma, beta, eps=1e-12):
    """Stable layer norm over the last axis. Returns ``(y, cache)``; the cache feeds ``layer_norm_backward``."""
    big = np.maximum(np.abs(x).max(-1, keepdims=True), 1)
    s = np.ldexp(np.ones_like(big), np.frexp(big)[1] - 1)      # a power of two in (big / 2, big]: x / s is exact
    c = x / s
    c = c - c.mean(-1, keepdims=True)                          # centred first: no cancellation in the variance
    c = c - c.mean(-1, keepdims=True)                          # (the second pass removes the first mean's rounding)
    root = np.sqrt((c * c).mean(-1, keepdims=True) + eps / s / s)
    xhat = c / root
    rstd = 1 / (s * root)                                      # 1 / sqrt(var + eps) in x's own units
    return xhat * gamma + beta, LayerNormCache(xhat, rstd)


def layer_norm_backward(dy, cache: LayerNormCache, gamma):
    """``(dx, dgamma, dbeta)``; the parameter gradients are summed over every leading axis."""
    xhat, rstd = cache
    g = dy * gamma
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    lead = tuple(range(dy.ndim - 1))
    return dx, (dy * xhat).sum(lead), dy.sum(lead)
