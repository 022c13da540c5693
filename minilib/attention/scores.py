"""Score functions, as readable formulas: how much should query i look at key j?

Every function maps ``q [..., T, d]`` and ``k [..., S, d]`` to scores ``[..., T, S]``.

- ``dot``       ``q_i . k_j / sqrt(d)`` (Vaswani et al., 2017): one matmul.
- ``additive``  ``w2 . tanh(Wq q_i + Wk k_j)`` (Bahdanau et al., 2015). This equals the
  write-up's ``W2 tanh(W1 [q; k])`` with ``W1 = [Wq | Wk]`` (``additive_scores_reference``
  builds the pairs literally). The ``[..., T, S, d_a]`` tanh tensor is the cost; the
  computation that keeps it cheap lives in ``additive_fast``.
- ``cosine``    ``cos(q_i, k_j) * scale``: bounded scores in [-scale, scale] (the BERT log in seed 000).
  ``scale`` is the inverse temperature: a number, or a learned one per head (``learned.LearnedScalars``).
- distances, negated (near = high score), each times ``scale = 1/sqrt(d)`` by default:
  ``euclidean`` ``-||q_i - k_j||^2 / 2`` (= ``q.k - ||q||^2/2 - ||k||^2/2``: in a softmax the
  ``||q||^2`` term cancels, so this is dot attention plus a per-key bias ``-||k_j||^2/2``);
  ``manhattan`` ``-sum |q_i - k_j|``; ``minkowski`` ``-(sum |q_i - k_j|^p)^(1/p)`` with ``p >= 1``
  (learned per head in ``MultiHeadAttention``); ``chebyshev`` ``-max |q_i - k_j|``, its ``p -> inf`` limit.

``book/speed.ipynb`` ("How fast is attention?") shows what each choice is worth (``make bench``).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..choices import check_choice
from . import additive_fast


def dot_scores(q, k, *, scale=None, causal=False):
    """``q k^T * scale`` with ``scale = 1/sqrt(d)`` by default. [..., T, d] x [..., S, d] -> [..., T, S]."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return (q @ k.transpose(-2, -1)) * scale


def cosine_scores(q, k, *, scale=1.0, eps=1e-6, causal=False):
    """Cosine similarity of every query with every key, times ``scale``. Scores lie in [-scale, scale]."""
    return dot_scores(F.normalize(q, dim=-1, eps=eps), F.normalize(k, dim=-1, eps=eps), scale=scale)


def additive_scores(q, k, *, w_q, w_k, w2, chunk=None, causal=False, compile=None):
    """Additive (Bahdanau) scores. ``w_q, w_k``: [d, a] or per head [H, d, a]; ``w2``: [a] or [H, a].

    ``causal=True`` lets the computation skip keys after each query (their scores are left
    at 0: the caller masks them with -inf). ``chunk`` (query rows per chunk) and ``compile``
    choose how it is computed (``additive_fast``); the result is the same formula.
    """
    qp, kp = q @ w_q, k @ w_k                             # [..., T, a], [..., S, a]
    return additive_fast.scores(qp, kp, w2, chunk=chunk, causal=causal, compile=compile)


def additive_scores_reference(q, k, *, w_q, w_k, w2, **_):
    """The readable (and slow) formula: build every pair ``[q_i; k_j]`` and apply ``W1 = [Wq; Wk]``."""
    T, S = q.shape[-2], k.shape[-2]
    pairs = torch.cat([q.unsqueeze(-2).expand(*q.shape[:-1], S, q.shape[-1]),
                       k.unsqueeze(-3).expand(*k.shape[:-2], T, S, k.shape[-1])], dim=-1)  # [..., T, S, 2d]
    w1 = torch.cat([w_q, w_k], dim=-2)                    # [..., 2d, a]
    hidden = torch.tanh(pairs @ w1.unsqueeze(-3))         # [..., T, S, a]
    return (hidden * w2.unsqueeze(-2).unsqueeze(-2)).sum(-1)


def _scale(q, scale):
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale


def euclidean_scores(q, k, *, scale=None, causal=False):
    """``-||q_i - k_j||^2 * scale / 2``, computed as ``scale * (q.k - ||q||^2/2 - ||k||^2/2)`` (one matmul)."""
    qq = (q * q).sum(-1, keepdim=True) / 2                              # [..., T, 1]
    kk = (k * k).sum(-1).unsqueeze(-2) / 2                              # [..., 1, S]
    return (q @ k.transpose(-2, -1) - qq - kk) * _scale(q, scale)


def _differences(q, k):
    """``|q_i - k_j|`` for every pair: [..., T, d] x [..., S, d] -> [..., T, S, d]."""
    return (q.unsqueeze(-2) - k.unsqueeze(-3)).abs()


def manhattan_scores(q, k, *, scale=None, causal=False):
    """``-sum_c |q_ic - k_jc| * scale`` (the L1 distance, negated)."""
    return -_differences(q, k).sum(-1) * _scale(q, scale)


def minkowski_scores(q, k, *, p=2.0, scale=None, eps=1e-6, causal=False):
    """``-(sum_c |q_ic - k_jc|^p)^(1/p) * scale``; ``p`` a number or a tensor broadcastable to the scores.

    Computed as ``exp(logsumexp_c(p * log |q_ic - k_jc|) / p)``: a log-sum-exp, which cannot overflow
    for large p and shows the limit, since ``logsumexp(p * a) / p -> max(a)`` as ``p -> inf``: the
    distance tends to ``max_c |q_ic - k_jc|``, the Chebyshev distance. Differences below ``eps`` are
    raised to ``eps``, so the log and the gradient stay finite where ``q_i = k_j`` (e.g. a token's own
    key under Q = K sharing).
    """
    log_diff = torch.log(_differences(q, k).clamp_min(eps))              # [..., T, S, d]
    p = torch.as_tensor(p, dtype=q.dtype, device=q.device)
    p_d = p.unsqueeze(-1) if p.dim() else p                             # broadcast over d
    return -torch.exp(torch.logsumexp(p_d * log_diff, dim=-1) / p) * _scale(q, scale)


def chebyshev_scores(q, k, *, scale=None, causal=False):
    """``-max_c |q_ic - k_jc| * scale``: the ``p -> inf`` limit of ``minkowski_scores``."""
    return -_differences(q, k).amax(-1) * _scale(q, scale)


SCORES = {"dot": dot_scores, "additive": additive_scores, "cosine": cosine_scores, "euclidean": euclidean_scores,
          "manhattan": manhattan_scores, "minkowski": minkowski_scores, "chebyshev": chebyshev_scores}


def check_score(score: str) -> str:
    return check_choice("score", score, SCORES)
