"""The two elementwise-or-matrix pieces every block uses: a linear map and GELU, with their backwards.

Weights are stored as PyTorch's ``nn.Linear`` stores them, ``W [out, in]``, so ``y = x W^T + b``
and a MiniBERT weight copies over as it is.

GELU is the exact one BERT uses, ``x * Phi(x)`` with the normal CDF ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``;
NumPy has no ``erf``, so Python's ``math.erf`` is applied elementwise (computed in double precision).
Its derivative is ``Phi(x) + x * phi(x)``, with the normal density ``phi``.
"""
from __future__ import annotations

import math

import numpy as np

_ERF = np.frompyfunc(math.erf, 1, 1)
_SQRT2, _SQRT2PI = math.sqrt(2.0), math.sqrt(2.0 * math.pi)


def linear(x, W, b):
    """``x [..., in] -> x W^T + b [..., out]``."""
    return x @ W.T + b


def linear_backward(dy, x, W):
    """``(dx, dW, db)`` for ``y = x W^T + b``; ``dW`` and ``db`` sum over every leading axis."""
    dy2, x2 = dy.reshape(-1, dy.shape[-1]), x.reshape(-1, x.shape[-1])
    return dy @ W, dy2.T @ x2, dy2.sum(0)


def erf(x):
    """The error function, elementwise, in ``x``'s dtype."""
    x = np.asarray(x)
    return _ERF(x).astype(x.dtype)


def normal_cdf(x):
    return 0.5 * (1.0 + erf(x / _SQRT2))


def gelu(x):
    """``x * Phi(x)`` (exact, as ``torch.nn.functional.gelu`` and BERT's ``hidden_act="gelu"``)."""
    return x * normal_cdf(x)


def gelu_backward(dy, x):
    """``dy * (Phi(x) + x * phi(x))``."""
    return dy * (normal_cdf(x) + x * np.exp(-0.5 * x * x) / _SQRT2PI)
