"""Spread over seeds, and the difference of two means: what every computed verdict is made of.

``mean_sd(xs)`` summarises one set of values (the finite ones); ``welch(a, b)`` is the difference of two such
summaries and its standard error (Welch's: the two sets need not share a spread). A verdict then asks whether
the difference is more than two standard errors from zero; each experiment names the outcome in its own words.
"""
from __future__ import annotations

import math
import statistics


def mean_sd(xs) -> tuple[float, float, int]:
    """``(mean, sample sd, n)`` of the finite values of ``xs`` (``None`` skipped); the sd is nan below two."""
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return math.nan, math.nan, 0
    return statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else math.nan, len(xs)


def welch(a, b) -> tuple[float, float]:
    """``(mean_a - mean_b, its standard error)`` from two ``(mean, sd, n)`` summaries; the standard error is nan
    when either side has fewer than two values (one seed says nothing about the spread)."""
    (ma, sa, na), (mb, sb, nb) = a, b
    se = math.sqrt(sa ** 2 / na + sb ** 2 / nb) if na > 1 and nb > 1 else math.nan
    return ma - mb, se
