"""The floor for masked-language modelling: the exact probability of a hidden word given the rest.

For a sentence ``w_1 ... w_n`` of the synthetic language and one hidden position ``t``,

    p(w_t = c | every other word) = P(w_1 ... c ... w_n) / sum_c' P(w_1 ... c' ... w_n),

where ``P`` is the language's exact sentence probability (``SyntheticLanguage.logprob``) and
``c'`` runs over every word type. The sentence's length is part of "the rest" (an encoder sees
where the sentence stops), as it is for a model reading ``<START> w_1 ... <MASK> ... w_n <STOP>``.

``mlm_floor`` averages ``-log p(w_t | rest)`` over chosen (sentence, position) pairs with one
hidden word each: no model can beat it on those targets, on average. ``floor_batches`` builds the
model's input for exactly those targets (one ``<MASK>`` per row), so a model's loss sits beside it.
"""
from __future__ import annotations

import math
import random
from typing import NamedTuple

import torch

from .grammar import SyntheticLanguage
from .mlm import MLMBatch


class MLMFloor(NamedTuple):
    """Mean ``-log p(hidden word | rest)`` in nats over ``positions`` single-word masks; per position too."""
    loss: float
    positions: int
    logprobs: list


def _logsumexp(xs):
    m = max(xs)
    return m if m == -math.inf else m + math.log(math.fsum(math.exp(x - m) for x in xs))


def masked_word_logprobs(tokens, t, language: SyntheticLanguage, candidates=None) -> dict:
    """``{c: log p(w_t = c | rest)}`` over the candidate words (default: every word type) that fit.

    ``tokens``: one sentence (no ``<START>``/``<STOP>``), which the language must produce.
    """
    if not 0 <= t < len(tokens):
        raise ValueError(f"position t={t} is outside the sentence (0 <= t < {len(tokens)})")
    language.logprob(tokens)                               # raises if the sentence is impossible
    row, joint = list(tokens), {}
    for c in candidates if candidates is not None else language.vocabulary():
        row[t] = c
        lp = language.token_logprobs(row, strict=False)
        if lp[-1] > -math.inf:
            joint[c] = math.fsum(lp)
    z = _logsumexp(list(joint.values()))
    return {c: lp - z for c, lp in joint.items()}


def floor_positions(sentences, n: int, *, max_words: int | None = None, seed: int = 0) -> list:
    """``n`` (sentence index, word position) pairs, at most one per sentence, from sentences of at most
    ``max_words`` words (so the model sees them whole); reproducible from ``seed``."""
    rng = random.Random(seed)
    ok = [i for i, s in enumerate(sentences) if s and (max_words is None or len(s) <= max_words)]
    if len(ok) < n:
        raise ValueError(f"only {len(ok)} sentences of 1..{max_words} words; ask for fewer positions "
                         "or pass more (or longer allowed) sentences")
    return [(i, rng.randrange(len(sentences[i]))) for i in sorted(rng.sample(ok, n))]


def mlm_floor(sentences, positions, language: SyntheticLanguage) -> MLMFloor:
    """The true language's own MLM loss on the given (sentence index, position) pairs."""
    lps = [masked_word_logprobs(sentences[i], t, language)[sentences[i][t]] for i, t in positions]
    return MLMFloor(-math.fsum(lps) / max(1, len(lps)), len(lps), lps)


def floor_batches(sentences, positions, tokenizer, batch_size: int = 64) -> list:
    """``MLMBatch`` es scoring exactly ``positions``: rows ``<START> w_1 .. <MASK> .. w_n <STOP>``, padded,
    with the one hidden word as the only target of each row."""
    out = []
    for b in range(0, len(positions), batch_size):
        chunk = positions[b:b + batch_size]
        rows = [tokenizer.encode(sentences[i], add_special=True) for i, _ in chunk]
        T = max(map(len, rows))
        idx = torch.full((len(rows), T), tokenizer.pad_id, dtype=torch.long)
        targets = torch.full((len(rows), T), -100, dtype=torch.long)
        for r, (row, (_, t)) in enumerate(zip(rows, chunk)):
            idx[r, :len(row)] = torch.tensor(row)
            targets[r, t + 1] = row[t + 1]                               # +1: <START> comes first
            idx[r, t + 1] = tokenizer.mask_id
        out.append(MLMBatch(idx, targets, idx != tokenizer.pad_id))
    return out
