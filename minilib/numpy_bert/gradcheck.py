"""Checking the hand-written backward: against ``torch.autograd`` and against finite differences.

Two independent references, per parameter tensor:

- ``autograd_grads``: MiniBERT (in float64, dropout off) with the same weights, ``loss.backward()``;
  MiniBERT itself is tested equal to Hugging Face's ``BertForMaskedLM`` (tests/test_bert.py);
- ``finite_difference``: the central difference ``(L(w + h) - L(w - h)) / 2h`` entry by entry, in
  float64, which needs nothing but the forward pass. Its error is ``O(h^2)`` from the Taylor
  series plus about ``eps * |L| / h`` from rounding, so ``h = 1e-6`` leaves roughly 1e-10.

``rel_error(a, b) = max|a - b| / max(max|a|, max|b|)`` (0 when both are exactly 0).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .model import NumpyBERT


def as_arrays(batch):
    """``(ids, targets, pad_mask)`` as NumPy arrays (from NumPy arrays, torch tensors or an ``MLMBatch``)."""
    ids, targets, pad_mask = (None if t is None else np.asarray(t) for t in batch)
    return ids, targets, pad_mask


def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    diff = np.abs(a - b).max(initial=0.0)
    return 0.0 if diff == 0 else float(diff / scale)


def torch_reference(model: NumpyBERT):
    """A float64 MiniBERT with ``model``'s weights and no dropout, in eval mode."""
    from ..models import MiniBERT
    ref = MiniBERT(dataclasses.replace(model.config, dropout=0.0)).double().eval()
    return model.astype(np.float64).load_into(ref)


def autograd_grads(model: NumpyBERT, batch) -> tuple[float, dict]:
    """Loss and ``{name: gradient}`` from ``torch.autograd`` on MiniBERT with the same weights (float64)."""
    import torch
    ref = torch_reference(model)
    ids, targets, pad = (None if a is None else torch.from_numpy(a) for a in as_arrays(batch))
    logits, _ = ref(ids, pad_mask=pad)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
    loss.backward()                      # (MiniBERT's own loss is taken in float32; this one stays float64)
    return loss.item(), {k: p.grad.numpy() for k, p in ref.named_parameters()}


def finite_difference(model: NumpyBERT, batch, name, entries=None, h=1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of the loss for the flat ``entries`` of parameter ``name`` (all by default).

    Returns ``(entries, numerical gradients)``. The model must be float64 (float32 rounding would swamp ``h``).
    """
    if model.dtype != np.float64:
        raise ValueError("finite differences need float64 parameters: use model.astype(np.float64)")
    ids, targets, pad = as_arrays(batch)
    flat = model.params[name].reshape(-1)                 # a view: changing it changes the parameter
    entries = np.arange(flat.size) if entries is None else np.asarray(entries)
    out = np.empty(len(entries))
    for n, i in enumerate(entries):
        orig = flat[i]
        flat[i] = orig + h
        up = model.forward(ids, targets, pad).loss
        flat[i] = orig - h
        down = model.forward(ids, targets, pad).loss
        flat[i] = orig
        out[n] = (up - down) / (2 * h)
    return entries, out


def gradient_check(model: NumpyBERT, batch, *, max_entries=None, h=1e-6, seed=0) -> list[dict]:
    """One row per parameter tensor: the hand-written gradient against autograd and finite differences.

    ``max_entries``: finite differences on at most this many (random) entries per tensor (None: all).
    """
    model = model.astype(np.float64)
    ids, targets, pad = as_arrays(batch)
    ours = model.backward(model.forward(ids, targets, pad))
    _, theirs = autograd_grads(model, (ids, targets, pad))
    rng = np.random.default_rng(seed)
    rows = []
    for name, g in ours.items():
        size = g.size
        entries = None if max_entries is None or size <= max_entries else rng.choice(size, max_entries, replace=False)
        idx, numeric = finite_difference(model, (ids, targets, pad), name, entries, h)
        rows.append({"parameter": name, "shape": "x".join(map(str, g.shape)), "entries checked": len(idx),
                     "max |grad|": float(np.abs(g).max()), "vs autograd": rel_error(g, theirs[name]),
                     "vs finite differences": rel_error(g.reshape(-1)[idx], numeric)})
    return rows
