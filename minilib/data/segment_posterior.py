"""The Bayes-optimal boundary posterior of a stream of sentences, by dynamic programming.

A stream is ``K`` sentences of a ``SyntheticLanguage`` written one after another with
their final punctuation (``.`` or ``!``) taken away. Two ways of joining are supported:

* ``joiner=None``: the sentences are simply concatenated; a boundary may follow any token;
* ``joiner="and"`` (or any token): each removed end mark is replaced by that token, so a
  boundary can only follow a joiner token, and the same token also occurs inside sentences.

Because every sentence has an exact probability, so has every segmentation:
``p(seg, stream) = prod_k q(s_k)`` with ``q(s) = p(s + ".") + p(s + "!")`` (the end mark is
not seen) for the ``K`` pieces ``s_k``. A piece the grammar cannot produce, or one longer
than ``max_len`` tokens (the sampler rejects those), has ``q = 0``. Summing over all
segmentations with a forward (``alpha``) and a backward (``beta``) pass over the places
a boundary may go, counting pieces, gives for every place ``c``

    p(boundary after token c | stream) = sum_k alpha[k][c] * beta[K - k][c] / Z.

Each piece is scored once (``span_logprobs`` caches them; pieces whose prefix the
grammar already rejects are never scored); the sums run in log space.
"""
from __future__ import annotations

import math

END_MARKS = (".", "!")


def logsumexp(xs) -> float:
    """log(sum(exp(x))) without overflow; -inf for an empty or all -inf list."""
    xs = list(xs)
    m = max(xs, default=-math.inf)
    if m == -math.inf:
        return m
    return m + math.log(math.fsum(math.exp(x - m) for x in xs))


def sentence_logprob(lang, tokens) -> float:
    """log q(tokens): the probability that ``tokens`` is a whole sentence whose end mark was removed."""
    if not tokens:
        return -math.inf
    return logsumexp(math.fsum(lang.token_logprobs(list(tokens) + [e], strict=False)) for e in END_MARKS)


def places(tokens, joiner):
    """The token indices a boundary may follow: every joiner token, or (no joiner) every token but the last."""
    if joiner is None:
        return list(range(len(tokens) - 1))
    return [i for i, t in enumerate(tokens) if t == joiner]


def span_logprobs(lang, tokens, nodes, offset, max_len) -> dict:
    """``{(i, j): log q(piece from node i to node j)}`` for every piece the grammar allows.

    The piece between nodes i < j is ``tokens[nodes[i] + 1 : nodes[j] + offset]`` (``offset``
    0 drops the joiner at node j, 1 keeps the token at node j). Pieces from one start share a
    prefix: one scoring of the longest allowed prefix says where the grammar gives up, and no
    piece reaching past that point is scored.
    """
    table = {}
    n = len(nodes)
    for i in range(n - 1):
        start = nodes[i] + 1
        lps = lang.token_logprobs(tokens[start:start + max_len], strict=False)[:-1]   # drop <STOP>
        alive = next((t for t, lp in enumerate(lps) if lp == -math.inf), len(lps))  # tokens the prefix survives
        for j in range(i + 1, n):
            stop = nodes[j] + offset
            if stop - start > alive:
                break
            lp = sentence_logprob(lang, tokens[start:stop])
            if lp > -math.inf:
                table[i, j] = lp
    return table


def boundary_posterior(lang, tokens, n_sentences, *, joiner="and", max_len=40) -> list:
    """p(boundary after token c | the whole stream) for every token c (0.0 where none can be).

    ``n_sentences`` is the number of sentences the stream was made of; ``max_len`` the
    longest sentence (tokens, end mark excluded) the sampler allowed. Raises ``ValueError``
    if no segmentation can produce the stream.
    """
    tokens = list(tokens)
    cand = places(tokens, joiner)
    offset = 1 if joiner is None else 0
    nodes = [-1] + cand + [len(tokens) - offset]          # node 0: before the stream; last: its end
    n, K = len(nodes), n_sentences
    S = span_logprobs(lang, tokens, nodes, offset, max_len)
    into, out = {}, {}                                    # the pieces ending at / starting from each node
    for (i, j), lp in S.items():
        into.setdefault(j, []).append((i, lp))
        out.setdefault(i, []).append((j, lp))
    NEG = -math.inf
    alpha = [[NEG] * n for _ in range(K + 1)]             # alpha[k][j]: k pieces cover the stream up to node j
    alpha[0][0] = 0.0
    for k in range(1, K + 1):
        for j in range(1, n):
            alpha[k][j] = logsumexp(alpha[k - 1][i] + lp for i, lp in into.get(j, ()))
    beta = [[NEG] * n for _ in range(K + 1)]              # beta[k][i]: k pieces cover the rest after node i
    beta[0][n - 1] = 0.0
    for k in range(1, K + 1):
        for i in range(n - 1):
            beta[k][i] = logsumexp(lp + beta[k - 1][j] for j, lp in out.get(i, ()))
    Z = alpha[K][n - 1]
    if Z == NEG:
        raise ValueError(f"no segmentation into {K} sentences of at most {max_len} tokens produces this stream")
    post = [0.0] * len(tokens)
    for j, c in enumerate(cand, start=1):
        post[c] = math.exp(logsumexp(alpha[k][j] + beta[K - k][j] for k in range(1, K)) - Z)
    return post
