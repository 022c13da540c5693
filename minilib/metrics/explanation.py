"""Is attention an explanation? The measures of Jain & Wallace (2019) and Wiegreffe & Pinter (2019).

Given, for one input, several *importance* scores per word (attention weights, gradients, the change
when the word is left out) and the words that truly decide the answer (``evidence``, known here from
the grammar), these functions say how far the scores agree and whether they find the evidence:

- ``kendall_tau``   rank correlation of two score vectors (tau-b: ties are allowed), in [-1, 1];
- ``top_k_hit``     does one of the ``k`` highest-scoring words belong to the evidence?
- ``chance_hit``    the same for a random ranking: the floor a score must beat;
- ``tvd``           total variation distance between two output distributions (how much an
                    intervention changed the prediction; Jain & Wallace's measure);
- ``mean_se``       a mean with its standard error, for the tables;
- ``paired_verdict``  a computed verdict on "a is larger than b" from paired values (2 standard errors).
"""
from __future__ import annotations

import math

import torch

from .stats import mean_sd


def _vec(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64).flatten()


def kendall_tau(a, b) -> float:
    """Kendall's tau-b of two equally long score vectors (NaN if either is constant)."""
    a, b = _vec(a), _vec(b)
    if a.shape != b.shape:
        raise ValueError(f"score vectors of different lengths: {a.numel()} and {b.numel()}")
    i, j = torch.triu_indices(len(a), len(a), offset=1)
    da, db = torch.sign(a[i] - a[j]), torch.sign(b[i] - b[j])
    concordant_minus_discordant = float((da * db).sum())
    n_a, n_b = float((da != 0).sum()), float((db != 0).sum())        # pairs not tied in a, in b
    if n_a == 0 or n_b == 0:
        return float("nan")
    return concordant_minus_discordant / math.sqrt(n_a * n_b)


def top_k_hit(scores, evidence, k: int = 1) -> bool:
    """True if one of the ``k`` highest ``scores`` is at a position in ``evidence`` (ties: the earlier position)."""
    s = _vec(scores)
    top = torch.argsort(-s, stable=True)[:k].tolist()
    return bool(set(top) & set(evidence))


def chance_hit(n: int, evidence, k: int = 1) -> float:
    """Probability that ``k`` positions drawn at random from ``n`` include one of ``evidence``."""
    m = len(set(evidence))
    if not 0 < k <= n or m > n:
        raise ValueError(f"need 0 < k <= n and at most n evidence positions (n={n}, k={k}, evidence={m})")
    return 1.0 - math.comb(n - m, k) / math.comb(n, k)


def tvd(p, q) -> float:
    """Total variation distance 0.5 * sum |p - q| of two distributions (or the mean over rows of two batches)."""
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    return float(0.5 * (p - q).abs().sum(-1).mean())


def mean_se(xs) -> tuple[float, float, int]:
    """``(mean, standard error, n)`` of the finite values of ``xs``."""
    m, sd, n = mean_sd([float(x) for x in xs])
    return m, (sd / math.sqrt(n) if n else math.nan), n


def paired_verdict(a, b, *, margin: float = 0.0) -> dict:
    """Is ``a`` larger than ``b`` (paired values, e.g. per sentence)? The mean difference, its standard error, and
    ``"yes"`` if it exceeds ``margin`` by 2 SE, ``"no"`` if it falls short of ``margin`` by 2 SE, else ``"unclear"``."""
    d = [float(x) - float(y) for x, y in zip(a, b) if math.isfinite(float(x)) and math.isfinite(float(y))]
    m, se, n = mean_se(d)
    if n < 2 or not math.isfinite(se):
        verdict = "unclear"
    elif m - margin > 2 * se:
        verdict = "yes"
    elif m - margin < -2 * se:
        verdict = "no"
    else:
        verdict = "unclear"
    return {"diff": m, "se": se, "n": n, "verdict": verdict}
