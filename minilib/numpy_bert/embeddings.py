"""BERT's input: token + position (+ segment) embeddings, then layer norm; and the gradient of a lookup.

A lookup ``E[ids]`` copies rows of the table. Its gradient *adds* back: row ``v`` of ``dE``
is the sum of the upstream gradients at every position that holds token ``v``. A token that
occurs twice in a batch must get both contributions. Ways to write that:

- ``embedding_grad_loop``: a Python loop over the batch and the positions (seed 001's version);
  correct, one interpreted row addition per token;
- ``dE[ids] += dout``: looks right and is wrong. Fancy-index assignment is *buffered*: with a
  repeated id only one of its rows survives;
- ``embedding_grad_rows``: ``np.add.at(dE, ids, dout)``, the *unbuffered* scatter-add of whole rows
  (seed 001's suggested fix): correct, one call, but NumPy adds element by element inside it;
- ``embedding_grad``: the same ``np.add.at`` on the flattened table, one index per element
  (``ids * C + column``): NumPy's fast path for a 1-D scatter-add. The library uses this one.

Which is fastest depends on the width ``C``: ``benchmarks/bench_numpy_bert.py`` measures it
(``make bench``; ``benchmarks/results/bench_numpy_bert.json``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .layernorm import LayerNormCache, layer_norm, layer_norm_backward


def embedding_grad(ids, dout, num_rows):
    """``dE [num_rows, C]`` for ``out = E[ids]``: ``np.add.at`` on the flat table, one index per element."""
    C = dout.shape[-1]
    grad = np.zeros(num_rows * C, dout.dtype)
    at = (ids.reshape(-1, 1) * C + np.arange(C)).reshape(-1)          # element (id, c) sits at id * C + c
    np.add.at(grad, at, dout.reshape(-1))
    return grad.reshape(num_rows, C)


def embedding_grad_rows(ids, dout, num_rows):
    """The same gradient with ``np.add.at`` adding whole rows: ``dout [..., C]`` into row ``ids[...]``."""
    grad = np.zeros((num_rows, dout.shape[-1]), dout.dtype)
    np.add.at(grad, ids.reshape(-1), dout.reshape(-1, dout.shape[-1]))
    return grad


def embedding_grad_loop(ids, dout, num_rows):
    """The same gradient with nested Python loops over the batch and the positions (the slow reference)."""
    grad = np.zeros((num_rows, dout.shape[-1]), dout.dtype)
    B, T = ids.shape
    for b in range(B):
        for t in range(T):
            grad[ids[b, t]] += dout[b, t]
    return grad


class EmbeddingCache(NamedTuple):
    ids: np.ndarray
    segments: np.ndarray | None
    ln: LayerNormCache


def embed(p, ids, segments=None, eps=1e-12):
    """``ids [B, T]`` -> ``LN(tok[ids] + pos[0..T-1] (+ seg[segments]))`` ``[B, T, C]``, and the cache.

    ``p`` holds ``tok_emb.weight``, ``pos_emb.weight``, optionally ``seg_emb.weight`` (segments
    default to 0, as MiniBERT's), and ``ln_emb.weight`` / ``ln_emb.bias``.
    """
    T = ids.shape[1]
    x = p["tok_emb.weight"][ids] + p["pos_emb.weight"][:T]
    if "seg_emb.weight" in p:
        segments = np.zeros_like(ids) if segments is None else segments
        x = x + p["seg_emb.weight"][segments]
    y, ln = layer_norm(x, p["ln_emb.weight"], p["ln_emb.bias"], eps)
    return y, EmbeddingCache(ids, segments, ln)


def embed_backward(dy, cache: EmbeddingCache, p) -> dict:
    """Gradients of every embedding parameter: the tables by scatter-add, positions summed over the batch."""
    dx, dgamma, dbeta = layer_norm_backward(dy, cache.ln, p["ln_emb.weight"])
    T = dx.shape[1]
    dpos = np.zeros_like(p["pos_emb.weight"])
    dpos[:T] = dx.sum(0)                                  # position t is the same row for every sentence
    grads = {"tok_emb.weight": embedding_grad(cache.ids, dx, len(p["tok_emb.weight"])), "pos_emb.weight": dpos,
             "ln_emb.weight": dgamma, "ln_emb.bias": dbeta}
    if cache.segments is not None:
        grads["seg_emb.weight"] = embedding_grad(cache.segments, dx, len(p["seg_emb.weight"]))
    return grads
