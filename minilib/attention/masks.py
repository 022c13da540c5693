"""Masks and the masked softmax: which keys a query may look at, and how "may not" is enforced.

Conventions (the same as ``torch.nn.functional.scaled_dot_product_attention``):
a boolean mask is **True where attention is allowed**, and it broadcasts against
the score matrix ``[..., T, S]`` (T queries, S keys).

Two ways to enforce a mask, kept side by side because the course is about the
difference between them:

- ``"-inf"`` (correct): masked scores become -inf *before* the softmax, so they
  take no part in the normaliser. Each row sums to 1 over the allowed keys.
- ``"zero"`` (the known-wrong variant from the write-up, kept for teaching): the
  softmax runs over *every* key and the masked weights are zeroed afterwards.
  The normaliser still contains the future scores, so the past depends on the
  future: the model leaks.
"""
from __future__ import annotations

import torch

from ..choices import check_choice

MASKINGS = ("-inf", "zero")


def check_masking(masking: str) -> str:
    return check_choice("masking", masking, MASKINGS)


def causal_mask(T: int, S: int | None = None, device=None) -> torch.Tensor:
    """``[T, S]`` bool, True where key j may be seen by query i (j <= i + S - T).

    With S > T the queries are the *last* T positions (as with a key/value cache).
    """
    S = T if S is None else S
    i = torch.arange(T, device=device).unsqueeze(1)
    j = torch.arange(S, device=device).unsqueeze(0)
    return j <= i + (S - T)


def key_padding_mask(pad_mask: torch.Tensor) -> torch.Tensor:
    """``[B, S]`` (True = real token) -> ``[B, 1, 1, S]``, broadcastable over heads and queries."""
    return pad_mask[:, None, None, :]


def combine(*masks: torch.Tensor | None) -> torch.Tensor | None:
    """Logical AND of the masks that are not None (broadcasting); None if all are None."""
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else out & m
    return out


def check_mask(mask: torch.Tensor | None, T: int, S: int) -> None:
    """Raise a ValueError that names the fix for a mask that cannot apply to ``[..., T, S]`` scores."""
    if mask is None:
        return
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor (True = may attend), got dtype {mask.dtype}; "
                         "convert with mask.bool() or (mask != 0)")
    if mask.dim() < 2 or mask.shape[-1] not in (1, S) or mask.shape[-2] not in (1, T):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to scores [..., {T}, {S}]; "
                         f"expected [..., {T} or 1, {S} or 1] (for a padding mask [B, S] use key_padding_mask)")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, masking: str = "-inf") -> torch.Tensor:
    """Softmax over the last dim of ``scores`` [..., T, S] under a bool ``mask``.

    ``"-inf"``: a row whose keys are all masked (e.g. a query that is all padding)
    has nothing to attend to; it returns zeros with zero (finite) gradients
    instead of the NaN that ``softmax([-inf, ..., -inf])`` gives.
    """
    check_masking(masking)
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if masking == "zero":
        # softmax over ALL keys, then drop the masked ones: the normaliser saw the future.
        return torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0)
    has_any = mask.any(dim=-1, keepdim=True)                  # [..., T, 1]
    scores = scores.masked_fill(~mask, float("-inf"))
    scores = scores.masked_fill(~has_any, 0.0)                # fully masked row: softmax of zeros ...
    return torch.softmax(scores, dim=-1).masked_fill(~has_any, 0.0)  # ... then zeroed
