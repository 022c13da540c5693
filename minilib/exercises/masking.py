"""Exercises of the masking pages (chapter "Masking pitfalls" and Lab 3)."""
from __future__ import annotations

import torch

from ..attention import causal_mask, masked_softmax
from ..metrics import leak_probe
from .feedback import feedback, verdict


def _check_cases(seed, trials):
    g = torch.Generator().manual_seed(seed)
    for n in range(trials):
        B, T, S = 2, int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(1, 7, (1,), generator=g))
        scores = torch.randn(B, T, S, generator=g, dtype=torch.float64) * (1 + 30 * (n % 3 == 2))
        mask = torch.rand(B, T, S, generator=g) < 0.6
        mask[0, 0] = False                                   # always at least one fully masked row
        if n % 4 == 1:
            mask[1] = True                                   # and a batch row with nothing masked
        yield scores, mask


def check_masked_softmax(fn, *, trials=24, seed=0, verbose=True) -> bool:
    """Test ``fn(scores, mask)`` against ``minilib.attention.masked_softmax(..., "-inf")``.

    Random float64 inputs, including fully masked rows and large scores; the weights must match,
    and the gradients must match and be finite. Prints a hint (if ``verbose``) instead of raising;
    returns True if all checks pass.
    """
    def say(message):
        if verbose:
            feedback(message)

    for scores, mask in _check_cases(seed, trials):
        s1 = scores.clone().requires_grad_(True)
        s2 = scores.clone().requires_grad_(True)
        try:
            got = fn(s1, mask)
        except NotImplementedError:
            say("Not implemented yet. Hint: fill the masked scores before the softmax, then deal with the rows "
                  "in which every key is masked (their weights should be all zeros).")
            return False
        want = masked_softmax(s2, mask, "-inf")
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            say(f"Expected a tensor of shape {tuple(want.shape)}, got {getattr(got, 'shape', type(got))}.")
            return False
        full = ~mask.any(-1)
        if not torch.isfinite(got).all():
            where = "in fully masked rows" if torch.isfinite(got[~full]).all() else "in rows with allowed keys"
            say(f"Your weights contain NaN or inf {where}. Hint: softmax of a row of -inf is 0/0.")
            return False
        if got.masked_fill(mask, 0.0).abs().max() > 0:
            say("Masked keys get non-zero weight: the mask leaks. Hint: masked weights must be exactly 0.")
            return False
        if not torch.allclose(got[~full], want[~full], atol=1e-9, rtol=0):
            say("Rows with allowed keys differ from the reference: they should sum to 1 over the allowed keys "
                  "only (did the normaliser include masked scores?).")
            return False
        if got[full].abs().sum() > 0:
            say("A fully masked row should give all-zero weights (nothing may be attended to).")
            return False
        w = torch.randn(want.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        (got * w).sum().backward()
        (want * w).sum().backward()
        if s1.grad is None or not torch.isfinite(s1.grad).all():
            say("The gradient with respect to the scores is missing or not finite. Hint: NaN can come back "
                  "through a branch whose forward value you replaced; avoid computing 0/0 at all.")
            return False
        if not torch.allclose(s1.grad, s2.grad, atol=1e-9, rtol=0):
            say("The gradients differ from the reference's.")
            return False
    say(f"All {trials} checks passed: no leak, fully masked rows give zeros, gradients finite and correct.")
    return True


def check_leak_by_t(fn, leaky, honest, idx, n=12) -> bool:
    """``fn(model, idx) -> [leak_probe(model, idx, t) for t in 0..T-2]``, on the first ``n`` positions."""
    if fn is None:
        feedback("Not answered yet. Hint: one leak_probe call per t; T is idx.shape[1].")
        return False
    idx = idx[:, :min(n, idx.shape[1])]
    want = [leak_probe(leaky, idx, t) for t in range(idx.shape[1] - 1)]
    try:
        got = [float(x) for x in fn(leaky, idx)]
        zero = [float(x) for x in fn(honest, idx)]
    except Exception as e:  # noqa: BLE001 - the learner's code: report, do not crash the page
        feedback(f"Your function raised {type(e).__name__}: {e}")
        return False
    if len(got) != len(want):
        feedback(f"Expected {len(want)} values (t = 0 .. T-2 for T = {idx.shape[1]}), got {len(got)}.")
        return False
    ok = all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(got, want)) and not any(zero)
    return verdict(ok, "Correct. Leak per t: " + ", ".join(f"{x:.1e}" for x in got),
                   "Not quite: compare your values with leak_probe(model, idx, t) for each t, and check "
                   "that the honest model gives zeros.")


def check_renormalised(fn, trials=20, seed=0) -> bool:
    """``fn(scores, mask)``: softmax over all keys, zero the masked ones, renormalise each row.

    It must equal -inf masking on moderate scores (so it is causal) and put no weight on masked keys.
    """
    if fn is None:
        feedback("Not answered yet. Hint: torch.softmax over the last dim, masked_fill(~mask, 0), "
                 "then divide by the row sum.")
        return False
    g = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        T = int(torch.randint(2, 8, (1,), generator=g))
        scores = torch.randn(3, T, T, generator=g, dtype=torch.float64) * 3
        mask = causal_mask(T)
        got = fn(scores, mask)
        if got.masked_fill(mask, 0).abs().max() > 0:
            return verdict(False, "", "Masked keys get weight: zero them after the softmax.")
        if not torch.allclose(got, masked_softmax(scores, mask), atol=1e-10, rtol=0):
            return verdict(False, "", "Rows do not match -inf masking: did you divide each row by its own "
                                      "sum over the allowed keys?")
    return verdict(True, f"Correct on {trials} random causal score matrices: zero-then-renormalise equals "
                         "-inf masking, so it is causal (the future cancels in the ratio).", "")
