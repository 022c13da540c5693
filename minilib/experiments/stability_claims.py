"""Reading Lab 4's sweep: per-variant summaries and the BERT log's claims, each decided from the runs.

A run **trained** when it ended without a non-finite loss (the trainer's guard), without a loss spike
(its smoothed training loss never rose more than ``SPIKE_TOL`` above its best so far), and learned at
least a quarter of what the best run of the sweep learned beyond word frequencies: its dev loss is below
``unigram - LEARNED * (unigram - best loss of the sweep)`` (``threshold``). A run left near the unigram
baseline, having learned little from the context (a collapse at a high learning rate, or too little
progress at a tiny one), did not train.
Per (variant, toggle):

- **best loss**: the lowest mean dev loss over the learning rates (mean ± sd over seeds at that rate);
- **stable range**: the widest run of neighbouring grid rates at which every seed trained, and its
  width in decades (0 for a single rate; none if no rate trained);
- **LR sensitivity** (Wortsman et al., 2023): the mean over the grid of ``min(loss, initial loss) -
  best loss``, where a diverged run counts as its initial loss. 0: the rate does not matter.

Two numbers differ **clearly** when the gap between their means exceeds ``Z`` standard errors of the
difference (the seeds' spread) and ``MIN_GAP`` nats. Each claim's verdict is computed from such
comparisons: ``reproduced``, ``not reproduced`` or ``not testable``; nothing is decided in advance.
"""
from __future__ import annotations

import math
import statistics
from collections import defaultdict

from ..metrics.stats import mean_sd
from ..tables import Table

SPIKE_TOL = 0.5     # nats the smoothed training loss may rise above its best so far
LEARNED = 0.25      # share of the sweep's best gain over the unigram baseline a run must reach to count as trained
Z = 2.0             # standard errors for a clear difference
MIN_GAP = 0.02      # nats: smaller gaps are not differences worth a verdict


def threshold(runs) -> float:
    """The dev loss a run must beat to count as trained (see the module's docstring)."""
    best = min(final_loss(r) for r in runs)
    return runs[0]["unigram"] - LEARNED * (runs[0]["unigram"] - best)


def trained(r, thr) -> bool:
    return (not r["diverged"]) and r["loss_spike"] <= SPIKE_TOL and r["dev_loss"] < thr


def final_loss(r) -> float:
    """The dev loss, capped at the initial loss; a diverged run counts as its initial loss."""
    return r["init_loss"] if r["diverged"] else min(r["dev_loss"], r["init_loss"])


def cells(runs) -> dict:
    """``{(variant, toggle): {lr: [runs over seeds]}}``, learning rates in increasing order."""
    out = defaultdict(lambda: defaultdict(list))
    for r in runs:
        out[(r["variant"], r["toggle"])][r["lr"]].append(r)
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def _mean_sd(xs):
    """``mean_sd``, with a spread of 0 (not nan) for a single seed: one run is its own best and range."""
    m, sd, n = mean_sd(xs)
    return m, (0.0 if n == 1 else sd), n


def summarise(by_lr: dict, thr: float) -> dict:
    """The summary of one cell (``{lr: runs}``): best loss, stable range, sensitivity, divergences;
    ``thr``: the loss a run must beat to count as trained (``threshold``)."""
    lrs = list(by_lr)
    losses = {lr: _mean_sd([final_loss(r) for r in rs]) for lr, rs in by_lr.items()}
    best_lr = min(lrs, key=lambda lr: losses[lr][0])
    best, best_sd, n = losses[best_lr]
    ok = [all(trained(r, thr) for r in by_lr[lr]) for lr in lrs]
    spans, start = [], None
    for i, good in enumerate(ok + [False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            spans.append((start, i - 1))
            start = None
    lo, hi = max(spans, key=lambda s: (s[1] - s[0], -s[0]), default=(None, None))
    rs = [r for v in by_lr.values() for r in v]
    return {"lrs": lrs, "best_lr": best_lr, "best": best, "best_sd": best_sd, "n_seeds": n,
            "best_runs": [final_loss(r) for r in by_lr[best_lr]],
            "stable": None if lo is None else (lrs[lo], lrs[hi]),
            "decades": None if lo is None else math.log10(lrs[hi] / lrs[lo]),
            "trained_at": [lr for lr, good in zip(lrs, ok) if good],
            "sensitivity": statistics.fmean(losses[lr][0] - best for lr in lrs),
            "diverged": sum(r["diverged"] for r in rs), "runs": len(rs),
            "floor": rs[0]["floor"], "unigram": rs[0]["unigram"], "threshold": thr,
            "max_logit": max(max(s["max_logit"] for s in r["stats"]) for r in rs)}


def summaries(runs) -> dict:
    thr = threshold(runs)
    return {key: summarise(by_lr, thr) for key, by_lr in cells(runs).items()}


def summary_table(runs, toggles=False) -> Table:
    """One row per variant (AdamW), or with ``toggles`` one row per optimiser toggle of the toggled variants."""
    rows, S = [], summaries(runs)
    toggled = {v for v, t in S if t != "adamw"}
    for (v, t), s in S.items():
        if (v not in toggled) if toggles else (t != "adamw"):
            continue
        stable = "none" if s["stable"] is None else f"{s['stable'][0]:g}–{s['stable'][1]:g} ({s['decades']:.1f})"
        rows.append([v if not toggles else f"{v} · {t}", f"{s['best']:.3f} ± {s['best_sd']:.3f}", f"{s['best_lr']:g}",
                     stable, f"{s['sensitivity']:.3f}", f"{s['diverged']}/{s['runs']}", f"{s['max_logit']:.3g}"])
    any_s = next(iter(summaries(runs).values()))
    return Table(["variant", "best dev loss", "at lr", "stable lr range (decades)", "LR sensitivity", "diverged",
                  "max logit"], rows,
                 title=f"MLM dev loss (floor {any_s['floor']:.3f}, unigram {any_s['unigram']:.3f} nats)",
                 note="best: mean ± sd over seeds at the best rate; stable: every seed trained (no NaN, no loss "
                      f"spike, dev loss below {any_s['threshold']:.3f}: a quarter of the way from the unigram "
                      "baseline to the sweep's best); sensitivity: mean excess loss over the grid; max logit: largest attention "
                      "logit seen in any run of the variant.")


# ---------------------------------------------------------------- comparisons
def compare(a, b) -> int:
    """-1 if ``a`` is clearly lower than ``b``, 1 if clearly higher, 0 if the seeds cannot tell them apart.
    ``a``, ``b``: lists of per-seed values."""
    (ma, sa, na), (mb, sb, nb) = _mean_sd(a), _mean_sd(b)
    if not (na and nb):
        return 0
    se = math.sqrt(sa ** 2 / na + sb ** 2 / nb)
    gap = ma - mb
    return 0 if abs(gap) <= max(Z * se, MIN_GAP) else (1 if gap > 0 else -1)


def _fmt_best(s):
    return f"{s['best']:.3f} ± {s['best_sd']:.3f} (lr {s['best_lr']:g})"


def _fmt_range(s):
    return "no rate" if s["stable"] is None else f"{s['stable'][0]:g}–{s['stable'][1]:g}"


def _length_penalty(by_lr, lr):
    """Per seed at ``lr``: (loss - floor) at up to 4x the trained length minus (loss - floor) at it."""
    return [(r["long_dev_loss"] - r["long_floor"]) - (r["dev_loss"] - r["floor"]) for r in by_lr[lr]
            if not r["diverged"]]


def _norm_growth(by_lr, lr):
    return [r["output_norm_long"] / r["output_norm_short"] for r in by_lr[lr] if not r["diverged"]]


def claims(runs) -> list:
    """The log's claims (seed 000), each with what the sweep measured and a computed verdict."""
    S, C = summaries(runs), cells(runs)
    get = lambda v, t="adamw": S.get((v, t))
    out = []

    def claim(text, needs, decide):
        if any(get(*n) is None for n in needs):
            out.append({"claim": text, "measured": "not in this sweep", "verdict": "not testable"})
            return
        measured, ok = decide(*(get(*n) for n in needs))
        out.append({"claim": text, "measured": measured, "verdict": "reproduced" if ok else "not reproduced"})

    def no_converge(cos, soft):
        return (f"cosine trained at {_fmt_range(cos)}; best {_fmt_best(cos)} vs softmax {_fmt_best(soft)}",
                cos["stable"] is None)
    claim("Cosine attention did not converge", [("cosine",), ("softmax",)], no_converge)

    def clipping(clip, base):
        wider = (clip["decades"] if clip["decades"] is not None else -1) > \
            (base["decades"] if base["decades"] is not None else -1)
        better = compare(clip["best_runs"], base["best_runs"]) < 0
        return (f"clip 1.0: stable {_fmt_range(clip)}, best {_fmt_best(clip)}; without: stable {_fmt_range(base)}, "
                f"best {_fmt_best(base)}", wider and not better)
    claim("Gradient clipping steadied cosine attention somewhat, but did not improve its results",
          [("cosine", "clip"), ("cosine",)], clipping)

    def weight_decay(wd, base):
        better = compare(wd["best_runs"], base["best_runs"]) < 0
        wider = (wd["decades"] or -1) > (base["decades"] or -1)
        return (f"wd 0.1: best {_fmt_best(wd)}, stable {_fmt_range(wd)}; wd 0.01: best {_fmt_best(base)}, "
                f"stable {_fmt_range(base)}", not better and not wider)
    claim("Weight decay 0.1 brought no noticeable improvement", [("cosine", "wd0.1"), ("cosine",)], weight_decay)

    def adam_to_adamw(adam, adamw):
        return (f"cosine with Adam (weight decay as an L2 term): best {_fmt_best(adam)}, stable {_fmt_range(adam)}; "
                f"with AdamW: best {_fmt_best(adamw)}, stable {_fmt_range(adamw)}",
                compare(adam["best_runs"], adamw["best_runs"]) != 0)
    claim("Switching from Adam to AdamW changed the results", [("cosine", "adam"), ("cosine",)], adam_to_adamw)

    def small_lr(cos, soft):
        ok = cos["trained_at"]
        fails_above = bool(ok) and any(lr > min(ok) and lr not in ok for lr in cos["lrs"])
        rates = lambda s: ", ".join(f"{x:g}" for x in s["trained_at"]) or "no rate"
        return (f"cosine trained at {rates(cos)} of {', '.join(f'{x:g}' for x in cos['lrs'])}; "
                f"softmax at {rates(soft)}", fails_above)
    claim("A smaller learning rate made cosine attention train", [("cosine",), ("softmax",)], small_lr)

    def adamw_softmax(soft, cos):
        lows = soft["lrs"][:2]
        at = lambda v, lr: [final_loss(r) for r in C[(v, "adamw")].get(lr, [])]
        cmp = [compare(at("softmax", lr), at("cosine", lr)) for lr in lows]
        means = [_mean_sd(at(v, lr))[0] for lr in lows for v in ("softmax", "cosine")]
        return ("softmax vs cosine at " + "; ".join(f"lr {lr:g}: {means[2 * i]:.3f} vs {means[2 * i + 1]:.3f}"
                                                   for i, lr in enumerate(lows)), all(c < 0 for c in cmp))
    claim("With AdamW, softmax clearly beat cosine at the small learning rates", [("softmax",), ("cosine",)],
          adamw_softmax)

    def relu_helped(relu, cos):
        return (f"cosine+ReLU best {_fmt_best(relu)}; cosine {_fmt_best(cos)}",
                compare(relu["best_runs"], cos["best_runs"]) < 0)
    claim("ReLU on the cosine attention matrix helped it converge", [("cosine_relu",), ("cosine",)], relu_helped)

    def by_L(rl, relu):
        top = lambda s: max(s["trained_at"], default=0.0)
        return (f"/L trained up to lr {top(rl):g} (stable {_fmt_range(rl)}), plain ReLU up to {top(relu):g} "
                f"(stable {_fmt_range(relu)}); best {rl['best']:.3f} vs {relu['best']:.3f}",
                top(rl) > top(relu))
    claim("Dividing by the sequence length made higher learning rates stable", [("cosine_relu_L",), ("cosine_relu",)],
          by_L)

    def sqrt_long(sq, rl):
        pen_sq = _length_penalty(C[("cosine_relu_sqrtL", "adamw")], sq["best_lr"])
        pen_l = _length_penalty(C[("cosine_relu_L", "adamw")], rl["best_lr"])
        g_sq = statistics.fmean(_norm_growth(C[("cosine_relu_sqrtL", "adamw")], sq["best_lr"]) or [math.nan])
        g_l = statistics.fmean(_norm_growth(C[("cosine_relu_L", "adamw")], rl["best_lr"]) or [math.nan])
        m = lambda xs: statistics.fmean(xs) if xs else math.nan
        return (f"at 4x length: output norm x{g_sq:.2f} (sqrt L) vs x{g_l:.2f} (L); extra loss above the floor "
                f"{m(pen_sq):+.3f} vs {m(pen_l):+.3f} nats", compare(pen_sq, pen_l) > 0)
    claim("Square-root normalisation broke down at longer sequences", [("cosine_relu_sqrtL",), ("cosine_relu_L",)],
          sqrt_long)

    def learnable(la, rl):
        promising = compare(la["best_runs"], rl["best_runs"]) <= 0
        unstable = (la["diverged"] > rl["diverged"]) or bool(set(rl["trained_at"]) - set(la["trained_at"]))
        alphas = [r["learned"]["alpha"] for rs in C[("cosine_relu_Lalpha", "adamw")].values() for r in rs
                  if "alpha" in r["learned"] and not r["diverged"]]
        learned = f"; learned alpha {min(alphas):.2f}–{max(alphas):.2f}" if alphas else ""
        return (f"best {_fmt_best(la)} vs /L {_fmt_best(rl)}; trained at {len(la['trained_at'])} rates vs "
                f"{len(rl['trained_at'])}{learned}", promising and unstable)
    claim("A learnable exponent was promising but sometimes unstable", [("cosine_relu_Lalpha",), ("cosine_relu_L",)],
          learnable)

    def qkv(qn, la):
        others = [s for (v, t), s in S.items() if t == "adamw" and v != "qkv_norm_relu"]
        widest = max((s["decades"] if s["decades"] is not None else -1) for s in others)
        stable = (qn["decades"] if qn["decades"] is not None else -1) >= widest
        return (f"Q,K,V normalised: stable {_fmt_range(qn)}, best {_fmt_best(qn)}; learnable exponent alone: "
                f"stable {_fmt_range(la)}, best {_fmt_best(la)}",
                stable and compare(qn["best_runs"], la["best_runs"]) < 0)
    claim("Normalising Q, K and V gave stable improvements", [("qkv_norm_relu",), ("cosine_relu_Lalpha",)], qkv)

    for text, why in (("Penalising large outputs in the loss did not converge", "the sweep has no output penalty"),
                      ("Cleaning the data (punctuation) improved the model", "the synthetic language is clean")):
        out.append({"claim": text, "measured": why, "verdict": "not testable"})
    return out


def claims_table(runs, scale="cpu") -> Table:
    rows = [[c["claim"], c["measured"], c["verdict"]] for c in claims(runs)]
    return Table(["the log reported (seed 000, paraphrased)", f"what we measured ({scale} scale)", "verdict"], rows,
                 title="What the BERT development log claimed, and what the sweep measured",
                 note=f"verdicts are computed: a difference counts when the means differ by more than {Z:g} "
                      f"standard errors over seeds and {MIN_GAP} nats.")
