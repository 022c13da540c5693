"""Corpora and their statistics.

    corpus = load_corpus()                      # the synthetic language, paper scale, cached
    tok = corpus.tokenizer(max_size=8000)       # the whole lexicon fits: no <UNK>

Corpora (``load_corpus(name)``): ``"synthetic"`` (default; generated from
``minilib.data.SyntheticLanguage`` and cached on disk), ``"pydoc"`` (English
text shipped with Python: the ``pydoc_data`` help topics), a path to a local
text file, and ``"tinyshakespeare"`` / ``"wikitext-2"`` (downloaded once where a
network exists; without one they raise ``CorpusUnavailableError``).

The synthetic corpus is the only one whose true probabilities are known, so only
there can ``true_loss`` say what a perfect model would score on the very same
targets: a held-out loss below that floor means the model sees what it should not.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import time
import zipfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..choices import check_choice
from ..files import write_atomic
from .downloads import OFFLINE, PINNED, CorpusUnavailableError, fetch
from .grammar import SyntheticLanguage
from .tokenizer import Tokenizer

PAPER_TRAIN_TOKENS = 1_561_375       # "total training tokens" reported by the original write-up
CORPORA = ("synthetic", "pydoc", "tinyshakespeare", "wikitext-2")
_WIKI_SPLITS = {"train": "wiki.train.tokens", "dev": "wiki.valid.tokens", "test": "wiki.test.tokens"}
_FORMAT = 1                          # bump when the cache layout or the language changes


@dataclass(repr=False)
class Corpus:
    """Three splits of sentences (each a list of token strings) and where they came from."""
    name: str
    train: list
    dev: list
    test: list
    language: SyntheticLanguage | None = None       # the true distribution, for the synthetic corpus
    meta: dict = field(default_factory=dict)

    @property
    def vocabulary(self) -> list | None:
        """Every word type of the language (synthetic corpus), else None."""
        return self.language.vocabulary() if self.language is not None else None

    def tokenizer(self, max_size: int | None = 8_000, level: str = "word") -> Tokenizer:
        """Train-frequency vocabulary, topped up with the rest of the lexicon when there is one."""
        if level == "char":
            return Tokenizer.chars(self.train, max_size=max_size)
        return Tokenizer.build(self.train, max_size=max_size, extra=self.vocabulary or ())

    def __repr__(self):
        n = {s: sum(map(len, getattr(self, s))) for s in ("train", "dev", "test")}
        return (f"Corpus({self.name!r}, train={len(self.train):,} sentences/{n['train']:,} tokens, "
                f"dev={len(self.dev):,}/{n['dev']:,}, test={len(self.test):,}/{n['test']:,})")


def default_cache_dir() -> Path:
    """``$MINILIB_CACHE`` if set, else ``~/.cache/minilib``."""
    return Path(os.environ.get("MINILIB_CACHE") or Path.home() / ".cache" / "minilib")


def load_corpus(name: str = "synthetic", *, n_train_tokens: int | None = None, seed: int = 0,
                n_types: int = 7_900, dev_fraction: float = 0.05, cache_dir=None, **language_kwargs) -> Corpus:
    """Load (or generate, or download) a corpus with fixed train/dev/test splits.

    ``"synthetic"``: ``n_train_tokens`` (default: the paper's 1,561,375) training
    tokens from ``SyntheticLanguage(seed, n_types, **language_kwargs)``, and
    ``dev_fraction`` as many for dev and for test, each split from its own seeded
    stream. Tokens are counted without ``<START>``/``<STOP>``. The result is cached
    under ``cache_dir`` keyed by every parameter; a cached load takes well under a
    second. Real text (``"pydoc"``, a local path, downloads) is split into
    sentences and words; its sentences are shuffled with ``seed`` into
    1 - 2*dev_fraction / dev_fraction / dev_fraction (wikitext-2 keeps its own
    splits), and ``n_train_tokens``, if given, truncates the training split.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if not 0 <= dev_fraction < 0.5:
        raise ValueError(f"dev_fraction must be in [0, 0.5), got {dev_fraction}")
    if n_train_tokens is not None and n_train_tokens < 1:
        raise ValueError(f"n_train_tokens must be >= 1, got {n_train_tokens}")
    if name == "synthetic":
        return _synthetic(n_train_tokens or PAPER_TRAIN_TOKENS, seed, n_types, dev_fraction, cache, language_kwargs)
    if language_kwargs:
        raise TypeError(f"unexpected arguments for {name!r}: {sorted(language_kwargs)}")
    if name == "pydoc":
        try:
            from pydoc_data.topics import topics
        except ImportError as e:      # some Linux distributions strip it
            raise CorpusUnavailableError(f"this Python has no pydoc_data; offline choices: {OFFLINE}") from e
        sents = [_words(s) for k in sorted(topics) for s in split_sentences(topics[k])]
        corpus = _split(name, sents, seed, dev_fraction)
    elif name == "tinyshakespeare":
        text = fetch(name, cache).read_text(encoding="utf-8")
        corpus = _split(name, [_words(s) for s in split_sentences(text)], seed, dev_fraction)
    elif name == "wikitext-2":
        with zipfile.ZipFile(fetch(name, cache)) as z:
            parts = {s: _wikitext(z.read(f"wikitext-2/{f}").decode("utf-8")) for s, f in _WIKI_SPLITS.items()}
        corpus = Corpus(name, parts["train"], parts["dev"], parts["test"], meta={"source": PINNED[name].url})
    elif os.path.isfile(name):
        corpus = _split(Path(name).name, read_text_file(name), seed, dev_fraction)
    else:
        raise ValueError(f"unknown corpus {name!r}: choose one of {', '.join(map(repr, CORPORA))} "
                         "or give the path of an existing text file")
    if n_train_tokens is not None:
        corpus.train = _take_tokens(corpus.train, n_train_tokens)
    return corpus


# ---------------------------------------------------------------------- the synthetic corpus
def _synthetic(n_train, seed, n_types, dev_fraction, cache, kwargs) -> Corpus:
    language = SyntheticLanguage(seed, n_types, **kwargs)
    params = {"format": _FORMAT, "n_train_tokens": n_train, "seed": seed, "n_types": n_types,
              "dev_fraction": dev_fraction, **dict(sorted(kwargs.items()))}
    # the key also covers the rules and the lexicon, so a changed language never reads a stale cache
    language_id = language.grammar_text() + repr(language) + " ".join(language.vocabulary())
    key = hashlib.sha1((json.dumps(params, sort_keys=True) + language_id).encode()).hexdigest()[:16]
    path = cache / f"synthetic-{key}.npz"
    t0, cached = time.perf_counter(), path.exists()
    if cached:
        splits = _load_splits(path)
    else:
        n_dev = round(n_train * dev_fraction)
        splits = [_take_tokens(_sample_stream(language, n, random.Random(f"corpus-{seed}-{part}")), n)
                  for part, n in (("train", n_train), ("dev", n_dev), ("test", n_dev))]
        try:
            _save_splits(path, splits, language.vocabulary(), params)
        except OSError as e:                # a read-only home directory should not stop the course
            warnings.warn(f"could not cache the corpus at {path}: {e}")
    meta = {**params, "cached": cached, "path": str(path), "seconds": time.perf_counter() - t0}
    return Corpus("synthetic", *splits, language=language, meta=meta)


def _save_splits(path: Path, splits, vocab: list, params: dict) -> None:
    """Store sentences as word ids (int32) plus lengths: compact, and fast to read back."""
    index = {w: i for i, w in enumerate(vocab)}
    sents = [s for split in splits for s in split]
    ids = np.fromiter((index[t] for s in sents for t in s), dtype=np.int32)
    buf = io.BytesIO()
    np.savez(buf, ids=ids, lengths=np.array([len(s) for s in sents], dtype=np.int32),
             sizes=np.array([len(x) for x in splits]), vocab=np.array(vocab), params=np.array(json.dumps(params)))
    write_atomic(path, buf.getvalue())


def _load_splits(path: Path) -> list:
    with np.load(path) as z:
        ids, lengths, sizes, vocab = z["ids"], z["lengths"], z["sizes"], z["vocab"].tolist()
    tokens = np.array(vocab, dtype=object)[ids].tolist()     # every token shares its vocabulary string
    ends = np.cumsum(lengths).tolist()
    sents = [tokens[a:b] for a, b in zip([0] + ends[:-1], ends)]
    cuts = np.cumsum(sizes).tolist()
    return [sents[a:b] for a, b in zip([0] + cuts[:-1], cuts)]


def _sample_stream(language, n_tokens, rng, chunk=2_000) -> list:
    """Sentences from one random stream until ``n_tokens`` tokens are reached (a prefix never changes)."""
    out, total = [], 0
    while total < n_tokens:
        more = language.sample(chunk, rng)
        out += more
        total += sum(map(len, more))
    return out


def _take_tokens(sents, n_tokens) -> list:
    """The shortest prefix of ``sents`` holding at least ``n_tokens`` tokens."""
    total = 0
    for i, s in enumerate(sents):
        if total >= n_tokens:
            return sents[:i]
        total += len(s)
    return list(sents)


# ---------------------------------------------------------------------- real text
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|\w+(?:['’-]\w+)*|[^\w\s]")


def split_sentences(text: str) -> list[str]:
    """Paragraphs (blank-line separated) cut after ``. ! ?`` followed by a capital or a digit."""
    out = []
    text = re.sub(r"(?m)^\s*([-=*~^#+_])\1{2,}\s*$", "", text)     # drop reST underlines such as "*****"
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        out += [s for s in _SENT_END.split(para) if s]
    return out


def _words(sentence: str) -> list[str]:
    """Words and punctuation marks: ``"Don't stop."`` -> ``["Don't", "stop", "."]``."""
    return _TOKEN.findall(sentence)


def read_text_file(path, split: str = "auto") -> list[list[str]]:
    """Sentences of a local text file: one per line (``"lines"``), or cut by punctuation
    (``"sentences"``); ``"auto"`` uses lines unless they average more than 50 words."""
    text = Path(path).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if split == "auto":
        split = "lines" if lines and sum(len(line.split()) for line in lines) / len(lines) <= 50 else "sentences"
    check_choice("split", split, ("lines", "sentences"), extra=" or 'auto'")
    return [w for w in map(_words, lines if split == "lines" else split_sentences(text)) if w]


def _wikitext(text: str) -> list[list[str]]:
    """WikiText is pre-tokenized: split on spaces, drop ``= headings =``, cut after ``. ? !``."""
    out = []
    for line in text.splitlines():
        toks = line.split()
        if not toks or toks[0] == "=":
            continue
        cur = []
        for t in toks:
            cur.append(t)
            if t in (".", "?", "!"):
                out.append(cur)
                cur = []
        if cur:
            out.append(cur)
    return out


def _split(name, sents, seed, dev_fraction) -> Corpus:
    sents = list(sents)
    random.Random(f"split-{seed}").shuffle(sents)
    n_dev = round(len(sents) * dev_fraction)
    return Corpus(name, sents[2 * n_dev:], sents[:n_dev], sents[n_dev:2 * n_dev], meta={"seed": seed})


# ---------------------------------------------------------------------- statistics
@dataclass(repr=False)
class CorpusStats:
    """Size and sentence-length statistics of one split (``lengths`` feeds a histogram)."""
    name: str
    split: str
    sentences: int
    tokens: int
    unique: int
    mean_length: float
    median_length: float
    max_length: int
    long: int                       # the threshold used by ``frac_long``
    frac_long: float                # fraction of sentences with more than ``long`` tokens
    lengths: np.ndarray

    def __repr__(self):
        return (f"{self.name} {self.split}: total tokens {self.tokens:,}; # unique tokens {self.unique:,}; "
                f"{self.sentences:,} sentences, mean length {self.mean_length:.1f} (median {self.median_length:g}, "
                f"max {self.max_length}), {100 * self.frac_long:.2f}% longer than {self.long}")


def corpus_stats(corpus: Corpus, split: str = "train", long: int = 100) -> CorpusStats:
    """Token counts (``<START>``/``<STOP>`` excluded), unique tokens, and the length distribution."""
    sents = getattr(corpus, split)
    if not sents:
        raise ValueError(f"the {split} split of {corpus.name!r} is empty")
    lengths = np.fromiter(map(len, sents), dtype=np.int64, count=len(sents))
    return CorpusStats(corpus.name, split, len(sents), int(lengths.sum()), len({t for s in sents for t in s}),
                       float(lengths.mean()), float(np.median(lengths)), int(lengths.max()), long,
                       float((lengths > long).mean()), lengths)
