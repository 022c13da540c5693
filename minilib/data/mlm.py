"""Masked-language-modelling batches: which tokens to hide, and what to put in their place.

BERT's rule (Devlin et al., 2019): choose 15% of the real tokens as targets; of those,
80% become ``<MASK>``, 10% a random token, 10% stay as they are. The model must predict
the original token at every chosen position (and only there: other targets are -100).

Three strategies decide *when* and *what* is chosen:

- ``static``      the choice is made once per sentence and reused every epoch (the original BERT
                  pre-processing, which duplicated the data 10 times with different masks);
- ``dynamic``     a fresh choice every time a batch is drawn (RoBERTa);
- ``whole_word``  dynamic, but a word split into several sub-word tokens is hidden whole
                  (needs ``word_ids``: the word each token belongs to).

``MLMBatches`` is a read-only sequence of batches for ``minilib.train.train``: item ``i`` is
batch ``i % n`` of epoch ``i // n``, masked reproducibly from (seed, sentence batch, epoch).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ..choices import check_choice

STRATEGIES = ("static", "dynamic", "whole_word")


class MLMBatch(NamedTuple):
    """``idx`` [B, T] the masked input; ``targets`` [B, T] the original ids at chosen positions, -100
    elsewhere; ``pad_mask`` [B, T] True where a token is real."""
    idx: torch.Tensor
    targets: torch.Tensor
    pad_mask: torch.Tensor


def choose_positions(maskable, p, generator, word_ids=None):
    """Bool [B, T]: each maskable token chosen with probability ``p`` (at least one per row that has any);
    with ``word_ids`` [B, T] (-1 for tokens of no word) whole words are chosen together."""
    if word_ids is None:
        chosen = (torch.rand(maskable.shape, generator=generator) < p) & maskable
        units = maskable
    else:
        n_words = int(word_ids.max()) + 1 if word_ids.numel() else 0
        pick = torch.rand(word_ids.shape[0], max(1, n_words), generator=generator) < p     # [B, words]
        chosen = pick.gather(1, word_ids.clamp(min=0)) & (word_ids >= 0) & maskable
        units = maskable & (word_ids >= 0)
    # a row with something to mask but nothing chosen gets one random position (or word)
    empty = ~chosen.any(1) & units.any(1)
    if empty.any():
        score = torch.rand(maskable.shape, generator=generator).masked_fill(~units, -1.0)
        first = score.argmax(1, keepdim=True)                                              # [B, 1]
        extra = torch.zeros_like(chosen).scatter_(1, first, True)
        if word_ids is not None:
            extra = (word_ids == word_ids.gather(1, first)) & units
        chosen |= extra & empty[:, None]
    return chosen


def mask_tokens(ids, pad_mask, *, mask_id, vocab_size, special_ids, p=0.15, generator=None, word_ids=None,
                replace=(0.8, 0.1, 0.1)) -> MLMBatch:
    """BERT's masking of a batch ``ids`` [B, T]: choose positions, then ``<MASK>`` / random / keep as ``replace``.

    ``special_ids``: ids never chosen (padding, start, stop). Random replacements are drawn from the
    ids that are neither special nor ``mask_id``.
    """
    if not 0 < p < 1:
        raise ValueError(f"p (the fraction of tokens to predict) must be in (0, 1), got {p}")
    if abs(sum(replace) - 1) > 1e-9 or min(replace) < 0:
        raise ValueError(f"replace = (mask, random, keep) must be non-negative and sum to 1, got {replace}")
    g = generator or torch.Generator().manual_seed(0)
    special = torch.tensor(sorted(set(special_ids) | {mask_id}))
    maskable = pad_mask & ~torch.isin(ids, special)
    chosen = choose_positions(maskable, p, g, word_ids)
    u = torch.rand(ids.shape, generator=g)
    to_mask = chosen & (u < replace[0])
    to_random = chosen & (u >= replace[0]) & (u < replace[0] + replace[1])
    ordinary = torch.tensor([i for i in range(vocab_size) if i not in set(special.tolist())])
    random_ids = ordinary[torch.randint(0, len(ordinary), ids.shape, generator=g)]
    inp = torch.where(to_mask, torch.full_like(ids, mask_id), torch.where(to_random, random_ids, ids))
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    return MLMBatch(inp, targets, pad_mask)


class MLMBatches:
    """Padded sentence batches turned into MLM batches, ``epochs`` times over, for ``train()``.

    ``batches``: ``minilib.data.Batch`` items (``idx`` holds ``<START> w1 ... wn``; its ``targets``
    are ignored: the last word is taken back from them so every word can be masked).
    ``strategy``: ``static`` | ``dynamic`` | ``whole_word`` (``word_ids``: one [B, T] tensor per batch).
    """

    def __init__(self, batches, *, tokenizer, mask_id, vocab_size, strategy="dynamic", epochs=1, p=0.15,
                 seed=0, word_ids=None):
        self.strategy = check_choice("strategy", strategy, STRATEGIES)
        if strategy == "whole_word" and word_ids is None:
            raise ValueError("whole_word masking needs word_ids (the word each token belongs to), one per batch")
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.rows = [encoder_rows(b) for b in batches]                    # (ids, pad_mask) with <STOP>
        self.word_ids, self.epochs, self.p, self.seed = word_ids, epochs, p, seed
        self.mask = dict(mask_id=mask_id, vocab_size=vocab_size, p=p,
                         special_ids=(tokenizer.pad_id, tokenizer.start_id, tokenizer.stop_id))

    def __len__(self):
        return len(self.rows) * self.epochs

    def __getitem__(self, i) -> MLMBatch:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        b, epoch = i % len(self.rows), i // len(self.rows)
        draw = 0 if self.strategy == "static" else epoch             # static: the same mask every epoch
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + b) * 1_009 + draw)
        ids, pad = self.rows[b]
        words = self.word_ids[b] if self.strategy == "whole_word" else None
        return mask_tokens(ids, pad, generator=g, word_ids=words, **self.mask)


def encoder_rows(batch):
    """A next-token ``Batch`` back as whole encoder rows: ids ``<START> w1 ... wn <STOP>`` [B, T+1] and their mask."""
    idx, targets, pad = batch
    B = idx.shape[0]
    last = pad.long().sum(1)                                           # index of the final target per row
    ids = torch.cat([idx, torch.zeros(B, 1, dtype=idx.dtype)], 1)
    ids[torch.arange(B), last] = targets[torch.arange(B), last - 1]   # the last target (<STOP> or a word)
    mask = torch.cat([pad, torch.zeros(B, 1, dtype=torch.bool)], 1)
    mask[torch.arange(B), last] = True
    return ids, mask
