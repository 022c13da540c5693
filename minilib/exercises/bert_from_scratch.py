"""Exercise of chapter 5 (a mini-BERT from scratch): write the layer-norm backward.

The learner's function takes ``(dy, x, gamma, eps)`` (NumPy arrays ``[..., C]``, ``[..., C]``,
``[C]`` and a float) and returns ``(dx, dgamma, dbeta)``. The checker compares it with
``torch.autograd`` through ``torch.nn.functional.layer_norm`` in float64, on random rows, on
rows with a large mean (where a one-pass variance cancels), and on a constant row.
"""
from __future__ import annotations

import numpy as np

from .feedback import feedback


def _cases(seed):
    rng = np.random.default_rng(seed)
    yield "a random batch [2, 3, 8]", rng.normal(size=(2, 3, 8)), rng.normal(size=8), 1e-5
    yield "rows of size 5, eps 1e-12", rng.normal(size=(4, 5)) * 3, rng.normal(size=5), 1e-12
    yield "rows with a large mean (1000 + noise)", 1000 + rng.normal(size=(3, 6)), rng.normal(size=6), 1e-5
    yield "a constant row (variance 0)", np.full((1, 4), 2.5), rng.normal(size=4), 1e-5


def _reference(dy, x, gamma, eps):
    import torch
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.zeros(len(gamma), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.layer_norm(xt, (len(gamma),), gt, bt, eps).backward(torch.tensor(dy))
    return xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()


def check_layer_norm_backward(fn, *, seed=0, verbose=True) -> bool:
    """``fn(dy, x, gamma, eps) -> (dx, dgamma, dbeta)`` against autograd; prints a hint, returns True if right."""
    def say(message):
        if verbose:
            feedback(message)

    rng = np.random.default_rng(seed + 1)
    for what, x, gamma, eps in _cases(seed):
        dy = rng.normal(size=x.shape)
        want = _reference(dy, x, gamma, eps)
        try:
            got = fn(dy.copy(), x.copy(), gamma.copy(), eps)
        except NotImplementedError:
            say("Not implemented yet. Hint: compute xhat and rstd = 1/sqrt(var + eps) again, then "
                "g = dy * gamma, and remember the three paths from x to the output.")
            return False
        if not isinstance(got, tuple) or len(got) != 3:
            say("Return a tuple (dx, dgamma, dbeta).")
            return False
        for name, g, w in zip(("dx", "dgamma", "dbeta"), got, want):
            g = np.asarray(g)
            if g.shape != w.shape:
                say(f"{name} should have shape {w.shape}, got {g.shape} (parameter gradients sum over every "
                    "leading axis).")
                return False
            if not np.allclose(g, w, rtol=1e-7, atol=1e-9):
                hint = {"dx": "dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma; "
                              "did you drop the path through the mean or the one through the variance?",
                        "dgamma": "dgamma = sum of dy * xhat over all rows.",
                        "dbeta": "dbeta = sum of dy over all rows."}[name]
                say(f"{name} differs from autograd on {what} (largest difference "
                    f"{np.abs(g - w).max():.2g}). Hint: {hint}")
                return False
    say("All checks passed: dx, dgamma and dbeta equal autograd's, also for large means and a constant row.")
    return True
