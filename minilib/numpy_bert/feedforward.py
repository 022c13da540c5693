"""The position-wise feed-forward block: ``proj(gelu(fc(x)))``, width 4C inside, and its backward."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .linear import gelu, gelu_backward, linear, linear_backward


class FeedForwardCache(NamedTuple):
    x: np.ndarray       # [B, T, C]
    h: np.ndarray       # fc(x), before GELU [B, T, 4C]
    g: np.ndarray       # gelu(h)


def feed_forward(p, x):
    """``p``: ``fc.weight [4C, C]``, ``fc.bias``, ``proj.weight [C, 4C]``, ``proj.bias``. Returns ``(y, cache)``."""
    h = linear(x, p["fc.weight"], p["fc.bias"])
    g = gelu(h)
    return linear(g, p["proj.weight"], p["proj.bias"]), FeedForwardCache(x, h, g)


def feed_forward_backward(dy, cache: FeedForwardCache, p):
    dg, dWp, dbp = linear_backward(dy, cache.g, p["proj.weight"])
    dh = gelu_backward(dg, cache.h)
    dx, dWf, dbf = linear_backward(dh, cache.x, p["fc.weight"])
    return dx, {"fc.weight": dWf, "fc.bias": dbf, "proj.weight": dWp, "proj.bias": dbp}
