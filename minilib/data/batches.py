"""The batches a language model trains on: padded rows of token ids, next-token targets, a padding mask.

    rows = encode_corpus(corpus, tok)           # {"train": [[<START>, ..., <STOP>], ...], ...}
    batches = make_batches(rows["train"], batch_size=32, max_len=100)
"""
from __future__ import annotations

import random
from itertools import chain
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .tokenizer import Tokenizer

if TYPE_CHECKING:                      # annotations only: importing torch stays lazy
    import torch

    from .corpora import Corpus


class Batch(NamedTuple):
    """One training batch. ``idx`` [B, T] inputs (``pad_id`` where empty); ``targets`` [B, T]
    next tokens (-100 where there is no target: cross-entropy ignores it); ``pad_mask`` [B, T]
    True where ``idx`` holds a real token."""
    idx: "torch.Tensor"
    targets: "torch.Tensor"
    pad_mask: "torch.Tensor"


def encode_corpus(corpus: Corpus, tokenizer: Tokenizer) -> dict:
    """Every split as rows of ids ``[<START>, ..., <STOP>]``: the input of ``make_batches``."""
    return {s: [tokenizer.encode(x, add_special=True) for x in getattr(corpus, s)] for s in ("train", "dev", "test")}


def make_batches(rows, *, batch_size: int = 32, max_len: int = 100, pad_id: int = 0, seed: int = 0,
                 bucket: bool = True, shuffle: bool = True, bucket_batches: int = 100) -> list[Batch]:
    """Cut encoded sentences into padded batches, one sentence per row.

    Each row must already be ``[<START>, w1, ..., wn, <STOP>]`` (see ``encode_corpus``).
    A row keeps at most ``max_len + 1`` ids, so ``idx = row[:-1]`` and
    ``targets = row[1:]`` have at most ``max_len`` positions; a truncated row loses
    its ``<STOP>``. Each batch is padded to its longest row. With ``bucket``, rows are
    sorted by length inside windows of ``bucket_batches`` batches, so short sentences
    are not padded to long ones; ``shuffle`` shuffles rows first and batch order last.
    Everything depends only on ``seed``. The last batch may be smaller.
    """
    import torch

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    rows = [list(r[:max_len + 1]) for r in rows]
    if not rows:
        raise ValueError("no sentences to batch")
    short = [i for i, r in enumerate(rows) if len(r) < 2]
    if short:
        raise ValueError(f"row {short[0]} has fewer than 2 ids; rows must be [<START>, ..., <STOP>]")
    rng = random.Random(seed)
    order = list(range(len(rows)))
    if shuffle:
        rng.shuffle(order)
    if bucket:
        w = batch_size * bucket_batches
        order = [i for k in range(0, len(order), w) for i in sorted(order[k:k + w], key=lambda i: len(rows[i]))]
    groups = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(groups)
    lengths = np.array([len(r) for r in rows])
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    batches = []
    for g in groups:                          # gather each batch from the flat array at once
        g = np.asarray(g)
        n = lengths[g] - 1                    # targets per row
        pos = np.arange(n.max())
        mask = pos[None, :] < n[:, None]
        at = np.where(mask, starts[g][:, None] + pos[None, :], 0)
        idx = np.where(mask, flat[at], pad_id)
        tgt = np.where(mask, flat[np.where(mask, at + 1, 0)], -100)
        batches.append(Batch(torch.from_numpy(idx), torch.from_numpy(tgt), torch.from_numpy(mask)))
    return batches
