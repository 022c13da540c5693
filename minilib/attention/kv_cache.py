"""A key/value cache: generate one token at a time without recomputing the past.

When a decoder generates, step t needs the keys and values of every earlier token, and those
never change (the model is causal). ``KVCache`` keeps them per layer: each step projects only the
new token, appends its key and value, and attends from the new query to all of them. The causal
mask then becomes "the last T queries of S keys" (``masks.causal_mask(T, S)``).
"""
from __future__ import annotations

import torch


class LayerCache:
    """One layer's cached keys and values, each ``[B, H, S, d_head]`` (None before the first step)."""

    def __init__(self):
        self.k = self.v = None

    def extend(self, k, v):
        """Append the new keys and values; return all of them."""
        self.k = k if self.k is None else torch.cat([self.k, k], dim=-2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=-2)
        return self.k, self.v

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]


class KVCache:
    """The caches of every layer of a model: ``cache.layers[l]``; ``len(cache)`` tokens seen so far."""

    def __init__(self, n_layer: int):
        self.layers = [LayerCache() for _ in range(n_layer)]

    def __len__(self) -> int:
        return self.layers[0].length

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for c in self.layers for t in (c.k, c.v) if t is not None)
