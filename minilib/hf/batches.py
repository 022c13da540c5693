"""Batches for Hugging Face models, from sentences given as word lists.

- ``mlm_batches``: masked-language-modelling batches, masked by ``transformers``' own
  ``DataCollatorForLanguageModeling`` (15% of the tokens; 80% ``<mask>``, 10% random, 10% kept), a new
  draw every epoch (RoBERTa's dynamic masking), reproducible from ``seed``;
- ``classification_batches``: sentences with one label each (``labels`` [B]).

Both are lists of ``(input_ids, targets, attention_mask)``, the shape of ``minilib.data.Batch``, so
``minilib.train.train`` trains a Hugging Face model on them through ``models.ForTrain``. Padding and
length-bucketing are ``minilib.data.make_batches``' (rows of similar length share a batch).
"""
from __future__ import annotations

import torch

from ..data.batches import make_batches
from ..data.mlm import MLMBatch, encoder_rows
from .tokenizer import encode_words


def padded(tokenizer, sentences, *, batch_size=32, max_len=64, seed=0, shuffle=True) -> list[tuple]:
    """``(input_ids [B, T], attention_mask [B, T], sentence index [B])`` per batch, ``<s> ... </s>`` included,
    at most ``max_len`` ids per row (longer sentences are cut)."""
    ids, _ = encode_words(tokenizer, sentences, max_len)
    kw = dict(batch_size=batch_size, max_len=max_len - 1, seed=seed, shuffle=shuffle)
    pad = tokenizer.pad_token_id
    index_rows = [[k] * len(r) for k, r in enumerate(ids)]         # batched the same way: rows of equal length
    out = []
    for b, k in zip(make_batches(ids, pad_id=pad, **kw), make_batches(index_rows, pad_id=-1, **kw)):
        rows, mask = encoder_rows(b)
        out.append((rows.masked_fill(~mask, pad), mask, encoder_rows(k)[0][:, 0]))
    return out


class CollatedMLM:
    """``epochs`` passes over padded batches, each batch masked anew by ``DataCollatorForLanguageModeling`` when it is
    read (item ``i`` is batch ``i % n`` of epoch ``i // n``), reproducibly from ``seed``: a read-only sequence for
    ``train()`` that never holds more than the unmasked batches."""

    def __init__(self, tokenizer, base, *, epochs=1, seed=0, p=0.15):
        from transformers import DataCollatorForLanguageModeling
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        self.collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=p)
        self.special = torch.tensor(tokenizer.all_special_ids)
        self.base, self.epochs, self.seed = base, epochs, seed

    def __len__(self):
        return len(self.base) * self.epochs

    def __getitem__(self, i) -> MLMBatch:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        epoch, b = divmod(i % len(self), len(self.base))
        rows, mask, _ = self.base[b]
        with torch.random.fork_rng(devices=[]):                 # the collator draws from torch's global RNG
            torch.manual_seed((self.seed * 1_000_003 + b) * 1_009 + epoch)
            inputs, labels = self.collator.torch_mask_tokens(rows.clone(), ~mask | torch.isin(rows, self.special))
        return MLMBatch(inputs, labels, mask)


def mlm_batches(tokenizer, sentences, *, batch_size=32, max_len=64, epochs=1, seed=0, p=0.15) -> CollatedMLM:
    """``epochs`` passes over ``sentences``, each batch masked anew by ``DataCollatorForLanguageModeling``."""
    base = padded(tokenizer, sentences, batch_size=batch_size, max_len=max_len, seed=seed)
    return CollatedMLM(tokenizer, base, epochs=epochs, seed=seed, p=p)


def classification_batches(tokenizer, sentences, labels, *, batch_size=32, max_len=64, seed=0, shuffle=True):
    """``(batches, order)``: batches of ``(input_ids, labels [B], attention_mask)`` and, per batch, the index of
    each row's sentence in ``sentences``."""
    if len(sentences) != len(labels):
        raise ValueError(f"{len(sentences)} sentences but {len(labels)} labels")
    y = torch.as_tensor(labels, dtype=torch.long)
    batches, order = [], []
    for rows, mask, k in padded(tokenizer, sentences, batch_size=batch_size, max_len=max_len, seed=seed,
                                shuffle=shuffle):
        batches.append(MLMBatch(rows, y[k], mask))
        order.append(k)
    return batches, order
