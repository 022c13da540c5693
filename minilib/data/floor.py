"""The entropy floor: the loss of the true language itself on exactly the targets a model is scored on.

Only the synthetic language has one (its probabilities are exact). A held-out loss clearly
below it means the model sees what it should not.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .grammar import SyntheticLanguage
from .tokenizer import Tokenizer


class FloorLoss(NamedTuple):
    """The true language's own loss (nats per target token) on the given targets."""
    loss: float
    tokens: int


def floor_logprobs(sentences, language: SyntheticLanguage, max_len: int = 100, tokenizer: Tokenizer | None = None):
    """Exact ``log p(target | prefix)`` for exactly the targets ``make_batches`` creates.

    ``sentences``: token lists, or (with ``tokenizer``) encoded rows, which are decoded.
    A row's targets are its words then ``<STOP>``, cut to the first ``max_len``.
    """
    if tokenizer is not None:
        sentences = [tokenizer.decode(r) for r in sentences]
    return [language.token_logprobs(s)[:max_len] for s in sentences]


def true_loss(sentences, language: SyntheticLanguage, max_len: int = 100, tokenizer: Tokenizer | None = None) -> FloorLoss:
    """Mean of ``-floor_logprobs``: the loss no honest model can beat on these targets, on average.

    A model whose loss on the same targets is clearly lower is using information it should
    not have (e.g. future tokens leaking through a broken mask).
    """
    lps = floor_logprobs(sentences, language, max_len, tokenizer)
    n = sum(map(len, lps))
    return FloorLoss(-float(np.sum([sum(x) for x in lps])) / max(1, n), n)
