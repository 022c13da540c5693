"""Reading attention heads: from sub-word pieces to words, how spread out each head is, and which heads
follow a known dependency.

Any model's weights work here (MiniGPT, MiniBERT, a Hugging Face model): a layer's weights are
``[H, T, T]`` (row = query, column = key) and ``word_ids`` says which word each of the ``T`` tokens
belongs to (None, or -1, for ``<s>``/``<START>``/``</s>`` and padding).

- ``word_sum``          per-token values summed into per-word values (a word's pieces together);
- ``word_attention``    ``[H, W, W]``: the weight a word's pieces (on average) give to another word's pieces (summed);
- ``head_entropy``      each head's mean entropy (nats) over the real queries: ``log T`` is uniform, 0 is one key;
- ``dependency_weight`` ``[H]``: the weight from one word to another, for every head of a layer (e.g. from
                        a verb to the noun it agrees with), beside the uniform share it is compared with.
"""
from __future__ import annotations

import math

import torch


def _word_index(word_ids):
    return [None if w is None or w < 0 else int(w) for w in word_ids]


def word_sum(values, word_ids, n_words: int | None = None) -> torch.Tensor:
    """Values [..., T] (one per token) summed into [..., n_words] (one per word); tokens of no word are dropped."""
    wid = _word_index(word_ids)
    n = n_words if n_words is not None else max(w for w in wid if w is not None) + 1
    keep = [t for t, w in enumerate(wid) if w is not None]
    v = torch.as_tensor(values)[..., keep]
    index = torch.tensor([wid[t] for t in keep], device=v.device)
    return torch.zeros(*v.shape[:-1], n, dtype=v.dtype, device=v.device).index_add_(v.dim() - 1, index, v)


def word_attention(weights, word_ids) -> torch.Tensor:
    """``[H, W, W]`` from token weights ``[H, T, T]``: row = query word (mean over its pieces), column = key
    word (sum over its pieces); weight on tokens of no word (specials) is left out."""
    w = torch.as_tensor(weights).float()
    keys = word_sum(w, word_ids)                                        # [H, T, W]
    per_word = word_sum(keys.transpose(-1, -2), word_ids)              # [H, W, W] (key, query): summed
    wid = _word_index(word_ids)
    counts = word_sum(torch.ones(len(wid)), word_ids)                  # pieces per word
    return per_word.transpose(-1, -2) / counts[:, None]


def head_entropy(weights, real=None) -> torch.Tensor:
    """``[H]``: each head's entropy (nats) averaged over the real queries (``real`` [T] bool; default all)."""
    w = torch.as_tensor(weights).float()
    real = torch.ones(w.shape[-1], dtype=torch.bool) if real is None else torch.as_tensor(real, dtype=torch.bool)
    ent = -(w * torch.log(w.clamp_min(1e-30))).sum(-1)                 # [H, T]
    return ent[:, real].mean(-1)


def dependency_weight(weights, word_ids, query_word: int, key_word: int, causal: bool = False) -> dict:
    """The weight every head of one layer gives from ``query_word`` to ``key_word`` (``[H]``), and the share a
    uniform head would give (1 / the number of words the query can see: all, or the ones up to it if ``causal``)."""
    wa = word_attention(weights, word_ids)                             # [H, W, W]
    seen = (query_word + 1) if causal else wa.shape[-1]
    return {"weight": wa[:, query_word, key_word], "uniform": 1.0 / seen}


def max_entropy(n_keys: int) -> float:
    """The entropy of uniform attention over ``n_keys`` keys (nats)."""
    return math.log(n_keys)
