"""Exercises of Lab 2 ("Do we need separate Q, K and V?")."""
from __future__ import annotations

import torch

from ..experiments.lm import head_qk
from .feedback import feedback, verdict


def check_self_scores(fn, run, probe=1) -> bool:
    """``fn(run) -> [T]``: the diagonal q_i . k_i of layer 0, head 0's raw scores on probe sentence ``probe``.

    ``run`` must share Q and K (``shared_qk``): then every self-score is |q_i|^2 >= 0.
    """
    if fn is None:
        feedback("Not answered yet. Hint: run.model.qkv(ids, layer=0) gives q and k; take head 0 of row 0.")
        return False
    q, k = head_qk(run, probe)
    want = torch.diagonal(q @ k.T)
    with torch.no_grad():
        got = fn(run)
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        feedback(f"Expected a tensor of shape {tuple(want.shape)}, got {getattr(got, 'shape', type(got))}.")
        return False
    if not torch.allclose(got, want, atol=1e-5):
        return verdict(False, "", "Not the diagonal of layer 0, head 0's q @ k.T: use the model's own "
                                  "projections (run.model.qkv), not a copy of them.")
    return verdict(bool((got >= 0).all()), f"Correct: all {got.numel()} self-scores are >= 0 "
                                           f"(min {float(got.min()):.3f}), as they must be when k is q.",
                   "Some self-scores are negative: this run does not share Q and K.")
