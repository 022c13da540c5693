"""Exercises of chapter 2 ("From one head to MiniGPT"): the head split and merge, and the causal mask
a key/value cache needs."""
from __future__ import annotations

import torch

from ..attention import MultiHeadAttention, causal_mask
from .feedback import feedback, verdict


def check_split_merge(split_heads, merge_heads) -> bool:
    """``split_heads(t [B, T, C], H) -> [B, H, T, C/H]`` and ``merge_heads(t [B, H, T, d]) -> [B, T, H*d]``,
    compared with ``MultiHeadAttention``'s own on several shapes (head h must own columns h*d .. h*d+d-1)."""
    if split_heads is None or merge_heads is None:
        feedback("Not answered yet. Hint: view [B, T, H, d], then swap the T and H dimensions.")
        return False
    g = torch.Generator().manual_seed(0)
    for B, T, C, H in ((2, 5, 12, 3), (1, 7, 16, 4), (3, 1, 8, 8)):
        mha = MultiHeadAttention(C, H)
        t = torch.randn(B, T, C, generator=g)
        try:
            got = split_heads(t, H)
        except Exception as e:  # noqa: BLE001 - the learner's code
            feedback(f"split_heads raised {type(e).__name__}: {e}")
            return False
        want = mha.split_heads(t)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            feedback(f"split_heads should give shape {tuple(want.shape)} for C={C}, H={H}, "
                     f"got {getattr(got, 'shape', type(got))}.")
            return False
        if not torch.equal(got, want):
            return verdict(False, "", "The shape is right but the numbers are not in the right heads: "
                                      "head h must hold columns h*d to h*d+d-1 of every token (view, then "
                                      "transpose; a plain reshape to [B, H, T, d] mixes tokens).")
        back = merge_heads(want)
        if not isinstance(back, torch.Tensor) or not torch.equal(back, t):
            return verdict(False, "", "merge_heads(split_heads(t)) must give t back exactly: transpose back, "
                                      "then reshape (the transpose makes the tensor non-contiguous).")
    return verdict(True, "Correct: your split and merge match MultiHeadAttention's, and merge undoes split.", "")


def check_cache_mask(fn) -> bool:
    """``fn(T, S) -> bool [T, S]``: which of S keys each of the last T queries may see (True = allowed)."""
    if fn is None:
        feedback("Not answered yet. Hint: the T queries are the last T of the S positions, so query i sits "
                 "at position i + S - T.")
        return False
    for T, S in ((4, 4), (1, 7), (3, 10), (5, 6)):
        try:
            got = fn(T, S)
        except Exception as e:  # noqa: BLE001
            feedback(f"Your function raised {type(e).__name__} for T={T}, S={S}: {e}")
            return False
        want = causal_mask(T, S)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape:
            feedback(f"Expected a [T, S] = [{T}, {S}] tensor, got {getattr(got, 'shape', type(got))}.")
            return False
        if not torch.equal(got.bool(), want):
            why = ("with S > T the queries are the newest tokens, not the first ones: "
                   "torch.tril on a [T, S] matrix hides keys they may see" if S > T else "check the diagonal")
            return verdict(False, "", f"Wrong for T={T}, S={S}: {why}.")
    return verdict(True, "Correct: the new queries see every cached key and themselves, never later ones.", "")
