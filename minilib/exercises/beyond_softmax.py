"""Exercise of chapter 4 ("Beyond softmax"): a sigmoid bias whose weights sum to exactly 1."""
from __future__ import annotations

import math

import torch

from .feedback import feedback, verdict


def check_sigmoid_bias(fn) -> bool:
    """``fn(L)``: the bias b for which L keys whose scores are all 0 get sigmoid weights ``sigmoid(b)``
    summing to exactly 1. Checked in float64 for several L through ``torch.sigmoid`` itself."""
    if fn is None:
        feedback("Not answered yet. Hint: all L weights are equal, so each must be 1/L; solve sigmoid(b) = 1/L.")
        return False
    for L in (2, 3, 10, 100, 10_000):
        try:
            b = fn(L)
        except Exception as e:  # noqa: BLE001 - the learner's code
            feedback(f"Your function raised {type(e).__name__} for L = {L}: {e}")
            return False
        if not isinstance(b, (int, float)) or not math.isfinite(b):
            feedback(f"Expected a finite number for L = {L}, got {b!r}.")
            return False
        total = float(torch.sigmoid(torch.full((L,), float(b), dtype=torch.float64)).sum())
        if abs(total - 1.0) > 1e-9:
            return verdict(False, "", f"With L = {L} keys and bias {b:.6g} the weights sum to {total:.6f}, not 1. "
                           "Hint: sigmoid(b) = e^b / (1 + e^b); -log L is close, but not exact.")
    return verdict(True, "Correct: with this bias, L equal scores get weights that sum to exactly 1, "
                         "for every L tried.", "")
