"""A text-segmentation task with a known answer: where do the sentences of a run-on stream end?

A *stream* is ``n_sentences`` sentences of the synthetic language (each at most
``max_len`` tokens; longer ones are redrawn) written one after another. Their end marks
(``.``/``!``) are removed and each one is replaced by the joiner ``and``, the way a
speaker strings sentences together::

    Mira sleeps and the bavoks klorn and she tesks ...
                ^ boundary?         ^ boundary?

``and`` also joins clauses *inside* sentences, so every ``and`` is a question: does a
sentence end here? The label of token i is 1 if a sentence ends right after it (the
``and`` that replaced an end mark), else 0. Because the language's probabilities are
exact, so is the answer a perfect reader would give: ``segment_posterior`` computes
p(boundary after token i | the whole stream) by dynamic programming. Thresholding it is
the best any model can do; its numbers (F1, calibration) are the task's ceiling.

Why a joiner: with the end marks only *removed* (``joiner=None``) the grammar gives most
boundaries away (a new sentence rarely starts with a word that could continue the old
one), so a perfect reader's F1 is above 0.95 and nothing is left to learn. The language
parameters below (more and longer clause chains than the default language) put the
Bayes-optimal F1 of the ``and`` task near 0.8, while "every ``and`` is a boundary" scores
about 0.65.

Inputs are frozen features: ``hashed_features`` gives every word a fixed 60-d vector
(a sum of random vectors of its character n-grams, seeded by their hash), so a model
sees spelling (``-s``, ``-ly``, capitals) but has no trainable embedding.
"""
from __future__ import annotations

import functools
import random
import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from .batches import Batch
from .grammar import SyntheticLanguage
from .segment_posterior import boundary_posterior, places
from .tokenizer import Tokenizer


@dataclass(frozen=True)
class SegmentationTask:
    """What a stream is. The defaults are the course's task (every scale uses the same one)."""
    n_sentences: int = 8            # sentences per stream
    max_len: int = 40               # longest sentence (tokens, end mark excluded); longer ones are redrawn
    joiner: str | None = "and"      # what replaces each removed end mark (None: nothing)
    lang_seed: int = 0
    n_types: int = 1_000            # word types of the language (its lexicon)
    p_first: float = 0.95           # the language's clause-chaining probabilities (see SyntheticLanguage)
    p_more: float = 0.8
    p_list: float = 0.9

    def __post_init__(self):
        if self.n_sentences < 1 or self.max_len < 1:
            raise ValueError(f"n_sentences and max_len must be >= 1, got {self.n_sentences}, {self.max_len}")

    def language(self) -> SyntheticLanguage:
        return _language(self.lang_seed, self.n_types, self.p_first, self.p_more, self.p_list)

    def to_dict(self) -> dict:
        return asdict(self)


@functools.lru_cache(maxsize=4)
def _language(seed, n_types, p_first, p_more, p_list):
    return SyntheticLanguage(seed, n_types, p_first=p_first, p_more=p_more, p_list=p_list)


@dataclass
class Stream:
    """One stream: its tokens, the true boundaries, and (if computed) the Bayes posterior."""
    tokens: list
    labels: list                            # 1 where a sentence ends right after the token
    posterior: list | None = None           # p(boundary after token | stream), exact
    sentences: list = field(default_factory=list, repr=False)

    def candidates(self, joiner) -> list:
        """Indices where a boundary may be (every joiner token)."""
        return places(self.tokens, joiner)


def sample_stream(task: SegmentationTask, rng: random.Random) -> Stream:
    """One stream of ``task.n_sentences`` sentences, joined as the task says."""
    lang, sents = task.language(), []
    while len(sents) < task.n_sentences:
        s = lang.sample(1, rng)[0]
        if s[-1] in (".", "!"):
            s = s[:-1]
        if 1 <= len(s) <= task.max_len:
            sents.append(s)
    tokens, labels = [], []
    for k, s in enumerate(sents):
        tokens += s
        labels += [0] * len(s)
        if k < len(sents) - 1:
            if task.joiner is None:
                labels[-1] = 1
            else:
                tokens.append(task.joiner)
                labels.append(1)
    return Stream(tokens, labels, sentences=sents)


SPLIT_SEEDS = {"train": 11, "dev": 22, "test": 33}


@functools.lru_cache(maxsize=16)
def make_streams(task: SegmentationTask, split: str, n: int, posterior: bool | None = None) -> tuple:
    """``n`` streams of one split (``"train"``, ``"dev"``, ``"test"``), each split from its own seeded
    generator, so the first ``n`` streams of a split never change. ``posterior`` (default: not for
    train) adds the Bayes posterior to each. Cached per process; returns a tuple (do not modify)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; valid splits are 'train', 'dev', 'test'")
    rng = random.Random(f"segmentation-{split}-{SPLIT_SEEDS[split]}")
    streams = [sample_stream(task, rng) for _ in range(n)]
    if posterior if posterior is not None else split != "train":
        lang = task.language()
        for s in streams:
            s.posterior = boundary_posterior(lang, s.tokens, task.n_sentences, joiner=task.joiner,
                                             max_len=task.max_len)
    return tuple(streams)


def task_tokenizer(task: SegmentationTask) -> Tokenizer:
    """Every word type of the task's language (no ``<UNK>`` ever), plus the joiner."""
    words = task.language().vocabulary()
    return Tokenizer(words + ([task.joiner] if task.joiner and task.joiner not in words else []))


def _ngrams(word: str, n_max: int = 3):
    w = f"^{word}$"
    yield f"w:{word}"                                    # the word itself
    for n in range(1, n_max + 1):
        for i in range(len(w) - n + 1):
            yield w[i:i + n]


def hashed_features(tokens, dim: int = 60, seed: int = 0) -> np.ndarray:
    """A frozen feature vector per token: the sum of seeded random vectors of the word and its
    character 1-3-grams, scaled to norm sqrt(dim). Row 0 (``<PAD>``) is zero. Depends only on the
    spelling, the dimension and ``seed`` (a word has the same vector in every vocabulary)."""
    out = np.zeros((len(tokens), dim), dtype=np.float32)
    cache = {}
    for r, tok in enumerate(tokens):
        if r == 0 and tok == Tokenizer.PAD:
            continue
        v = np.zeros(dim)
        for g in _ngrams(tok):
            if g not in cache:
                cache[g] = np.random.default_rng([seed, zlib.crc32(g.encode())]).standard_normal(dim)
            v += cache[g]
        out[r] = v * (dim ** 0.5 / np.linalg.norm(v))
    return out


def segmentation_batches(streams, tok: Tokenizer, batch_size: int, *, shuffle: bool = False,
                         sort: bool = True, seed: int = 0) -> list:
    """Padded batches ``Batch(idx, targets, pad_mask)``: ``targets`` are the boundary labels
    (-100 on padding, which the loss ignores). With ``sort``, streams of similar length share a
    batch; without ``sort`` and ``shuffle`` the batches hold the streams in order."""
    import torch

    order = list(range(len(streams)))
    rng = random.Random(seed)
    if shuffle:
        rng.shuffle(order)
    if sort:                                             # by length, inside windows of 20 batches
        w = batch_size * 20
        order = [i for k in range(0, len(order), w)
                 for i in sorted(order[k:k + w], key=lambda i: len(streams[i].tokens))]
    groups = [order[k:k + batch_size] for k in range(0, len(order), batch_size)]
    if shuffle:
        rng.shuffle(groups)
    batches = []
    for g in groups:
        T = max(len(streams[i].tokens) for i in g)
        idx = torch.full((len(g), T), tok.pad_id, dtype=torch.long)
        tgt = torch.full((len(g), T), -100, dtype=torch.long)
        for r, i in enumerate(g):
            s = streams[i]
            idx[r, :len(s.tokens)] = torch.tensor(tok.encode(s.tokens))
            tgt[r, :len(s.labels)] = torch.tensor(s.labels)
        batches.append(Batch(idx, tgt, idx != tok.pad_id))
    return batches
