"""Tokenizers: turn token lists into integer ids and back.

A language model predicts ids, not words. ``Tokenizer`` keeps the two-way map.
Four special tokens have fixed ids in every tokenizer:

========  ==  ==================================================
``<PAD>``  0  fills the unused end of a short row in a batch
``<START>`` 1  the first input of every row (predicts the first word)
``<STOP>``  2  the last target of every row (ends the sentence)
``<UNK>``   3  any word that did not make it into the vocabulary
========  ==  ==================================================

Word level (the default): a vocabulary of the ``max_size`` most frequent
training words, e.g. ``Tokenizer.build(corpus.train, max_size=8000)``.
Character level: ``Tokenizer.chars(texts)``; a sentence given as a list of words
is joined with single spaces first, and its tokens are then its characters.
"""
from __future__ import annotations

from collections import Counter

from ..choices import check_choice

SPECIALS = ("<PAD>", "<START>", "<STOP>", "<UNK>")


class Tokenizer:
    """A fixed vocabulary: ``encode`` maps tokens to ids, ``decode`` maps ids back."""

    pad_id, start_id, stop_id, unk_id = 0, 1, 2, 3
    PAD, START, STOP, UNK = SPECIALS

    def __init__(self, tokens, level: str = "word"):
        """``tokens``: the vocabulary without the specials, in id order (ids start at 4)."""
        self.level = check_choice("level", level, ("word", "char"))
        self.itos = list(SPECIALS) + [t for t in dict.fromkeys(tokens) if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, sentences, max_size: int | None = None, min_freq: int = 1, extra=()) -> "Tokenizer":
        """Word vocabulary from training sentences (lists of tokens).

        The most frequent words first (ties: first seen first), at most ``max_size``
        ids including the 4 specials; ``extra`` words (e.g. a known lexicon) fill the
        remaining room after the observed ones, so words absent from the training
        data need not become ``<UNK>``.
        """
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be at least {len(SPECIALS)}, got {max_size}")
        counts = Counter(t for s in sentences for t in s)
        words = [w for w, c in counts.most_common() if c >= min_freq]
        words += [w for w in extra if w not in counts]
        room = None if max_size is None else max_size - len(SPECIALS)
        return cls(words[:room])

    @classmethod
    def chars(cls, texts, max_size: int | None = None) -> "Tokenizer":
        """Character vocabulary from ``texts`` (strings, or lists of words joined by spaces)."""
        counts = Counter(ch for t in texts for ch in cls._as_text(t))
        room = None if max_size is None else max_size - len(SPECIALS)
        return cls([c for c, _ in counts.most_common()][:room], level="char")

    MASK = "<MASK>"

    def with_mask(self) -> "Tokenizer":
        """The same vocabulary plus ``<MASK>`` as its last id (for masked-language modelling)."""
        return self if self.MASK in self.stoi else Tokenizer(self.itos[len(SPECIALS):] + [self.MASK], self.level)

    @property
    def mask_id(self) -> int:
        if self.MASK not in self.stoi:
            raise ValueError("this tokenizer has no <MASK> token; use tok.with_mask() for masked-language modelling")
        return self.stoi[self.MASK]

    # ------------------------------------------------------------------ using
    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    @staticmethod
    def _as_text(x) -> str:
        return x if isinstance(x, str) else " ".join(x)

    def encode(self, tokens, add_special: bool = False) -> list[int]:
        """Ids of ``tokens`` (unknown ones become ``unk_id``).

        Word level: ``tokens`` is a list of words. Character level: a string or a
        list of words. ``add_special`` wraps the ids in ``<START> … <STOP>``, the
        form ``make_batches`` expects.
        """
        seq = self._as_text(tokens) if self.level == "char" else tokens
        get, unk = self.stoi.get, self.unk_id
        ids = [get(t, unk) for t in seq]
        return [self.start_id, *ids, self.stop_id] if add_special else ids

    def decode(self, ids, skip_special: bool = True) -> list[str]:
        """Tokens of ``ids`` (words, or characters at character level).

        ``skip_special`` drops ``<PAD>``, ``<START>`` and ``<STOP>`` (``<UNK>`` stays: it stands for a word).
        """
        return [self.itos[int(i)] for i in ids if not (skip_special and int(i) < self.unk_id)]

    def decode_text(self, ids, skip_special: bool = True) -> str:
        """``decode`` joined into one string (spaces between words; characters as they are)."""
        return ("" if self.level == "char" else " ").join(self.decode(ids, skip_special))

    # ------------------------------------------------------------------ saving
    def to_dict(self) -> dict:
        """A JSON-ready description (``from_dict`` restores it)."""
        return {"level": self.level, "tokens": self.itos[len(SPECIALS):]}

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        return cls(d["tokens"], level=d.get("level", "word"))

    def __eq__(self, other):
        return isinstance(other, Tokenizer) and (self.level, self.itos) == (other.level, other.itos)

    def __repr__(self):
        return f"Tokenizer(level={self.level!r}, vocab_size={self.vocab_size})"
