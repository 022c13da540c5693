"""Lab 6's tables and figures: accuracy by construction and distance, pretrained against from scratch, with the
spread over the stored seeds and a computed verdict.

    runs = roberta.load("cpu")                     # the stored reference runs, both variants, three seeds
    display(by_construction({"pretrained": ..., "scratch": ...}))
    table, verdicts = pretraining_verdicts(runs)
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from .. import style
from ..data.minimal_pairs import CONSTRUCTIONS
from ..metrics.stats import welch
from ..tables import Table
from ..viz import smooth
from .roberta import DISTANCES, _bucket

BUCKETS = [_bucket(lo) for lo, _ in DISTANCES]
SHORT = {"prepositional phrase": "prep. phrase", "in relative clause": "in rel. clause",
         "across relative clause": "across rel. clause", "parenthesis": "paren- thesis"}   # axis labels


def _cell(d):
    return "–" if d is None else f"{d['mean']:.2f} ({d['n']})"


def by_construction(tests: dict, key="by_construction", groups=CONSTRUCTIONS, title="") -> Table:
    """One column per model (its ``evaluate`` or ``blimp`` dict): pair accuracy per group (n pairs)."""
    rows = [[g] + [_cell(t[key].get(g)) for t in tests.values()] for g in groups]
    rows.append(["all"] + [_cell(_pooled([t[key][g] for g in groups if g in t[key]])) for t in tests.values()])
    return Table(["construction" if key == "by_construction" else key.replace("by_", ""), *tests], rows,
                 title=title or "pair accuracy: the good sentence scored above the bad one (number of test pairs)",
                 note="chance: 0.50; the grammar itself: 1.00 on every pair.")


def _pooled(cells):
    n = sum(c["n"] for c in cells)
    return {"mean": sum(c["mean"] * c["n"] for c in cells) / n, "n": n} if n else None


def by_distance(tests: dict, title="") -> Table:
    """Pair accuracy per distance between the two words that decide (target minus controller, in words)."""
    return by_construction(tests, "by_distance", BUCKETS, title or "pair accuracy by distance (words)")


def stored_spread(runs, key="by_construction", groups=CONSTRUCTIONS) -> dict:
    """``{variant: {group: (mean, sd, n_seeds)}}`` of pair accuracy over the stored seeds (and ``"all"``)."""
    out = {}
    for v in sorted({r.variant for r in runs}, key=lambda v: ("pretrained", "scratch").index(v)):
        rs = [r for r in runs if r.variant == v]
        per = {g: [r.test[key][g]["mean"] for r in rs if g in r.test[key]] for g in groups}
        per["all"] = [r.test["pair_accuracy"] for r in rs]
        out[v] = {g: (float(np.mean(x)), float(np.std(x, ddof=1)) if len(x) > 1 else math.nan, len(x))
                  for g, x in per.items() if x}
    return out


def spread_table(runs, key="by_construction", groups=CONSTRUCTIONS) -> Table:
    """Pair accuracy, mean ± sd over the stored seeds, per variant and group."""
    sp = stored_spread(runs, key, groups)
    names = [g for g in [*groups, "all"] if any(g in s for s in sp.values())]
    rows = [[g] + [f"{s[g][0]:.3f} ± {s[g][1]:.3f}" if g in s else "–" for s in sp.values()] for g in names]
    scale = next(iter({r.scale for r in runs}), "")
    seeds = sorted({r.seed for r in runs})
    return Table(["construction" if key == "by_construction" else "distance", *sp], rows,
                 title=f"stored reference runs ({scale} scale, seeds {seeds}): pair accuracy, mean ± sd",
                 note="sd: standard deviation over seeds (each seed pretrains and fine-tunes anew).")


def pretraining_verdicts(runs, groups=CONSTRUCTIONS) -> tuple[Table, dict]:
    """Does pretraining help? Per construction and overall: the difference of mean pair accuracy (pretrained minus
    scratch), its standard error over seeds, and a verdict (helps / hurts beyond 2 SE, else not decided)."""
    sp = stored_spread(runs, "by_construction", groups)
    if set(sp) != {"pretrained", "scratch"}:
        raise ValueError("need stored runs of both variants: python -m minilib.experiments roberta")
    rows, out = [], {}
    for g in [*groups, "all"]:
        (ma, _, _), (mb, _, _) = sp["pretrained"][g], sp["scratch"][g]
        diff, se = welch(sp["pretrained"][g], sp["scratch"][g])
        verdict = ("not decided (one seed)" if not math.isfinite(se) else "helps" if diff > 2 * se
                   else "hurts" if diff < -2 * se else "no clear difference")
        out[g] = {"diff": diff, "se": se, "verdict": verdict}
        rows.append([g, f"{ma:.3f}", f"{mb:.3f}", f"{diff:+.3f} ± {se:.3f}", verdict])
    return Table(["construction", "pretrained", "scratch", "difference ± SE", "pretraining"], rows,
                 title="claimed -> measured: pretraining helps a small model learn grammaticality",
                 note="means over seeds; SE of the difference from the two spreads; helps/hurts beyond 2 SE."), out


def plot_losses(curves: dict, ylabel="loss", title="", window=50, ax=None):
    """Training-loss curves (name -> per-step losses), smoothed, on one axis."""
    ax = ax or plt.subplots(figsize=(style.COLUMN_INCHES, 3.2))[1]
    for name, losses in curves.items():
        ax.plot(smooth(losses, window), label=name)
    ax.set(xlabel="step", ylabel=ylabel, title=title)
    ax.legend()
    return ax


def plot_by_construction(runs, ax=None):
    """Pair accuracy per construction, one dot per stored seed, pretrained beside scratch."""
    ax = ax or plt.subplots(figsize=(style.COLUMN_INCHES, 3.6))[1]
    variants = sorted({r.variant for r in runs}, key=lambda v: ("pretrained", "scratch").index(v))
    x = np.arange(len(CONSTRUCTIONS))
    for k, v in enumerate(variants):
        for r in (r for r in runs if r.variant == v):
            ys = [r.test["by_construction"].get(c, {}).get("mean", np.nan) for c in CONSTRUCTIONS]
            ax.plot(x + (k - 0.5) * 0.25, ys, "o", color=f"C{k}", alpha=0.8,
                    label=v if r.seed == min(q.seed for q in runs if q.variant == v) else None)
    ax.axhline(0.5, color="k", lw=1, ls=":")
    ax.set_xticks(x, [SHORT.get(c, c).replace(" ", "\n") for c in CONSTRUCTIONS])
    ax.set(ylabel="pair accuracy", ylim=(0.3, 1.02), title="each dot: one seed (chance dotted)")
    ax.legend(loc="lower left")
    return ax

