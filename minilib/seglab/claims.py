"""Seed 004's claims, checked one by one against runs over several seeds.

The figures are quoted from the seed document (a BiLSTM + attention text segmenter's
training report) with credit; they were measured on its own data, which we do not have, so
only the *direction* of each claim is comparable with runs on our task. Every verdict is
computed from our runs and their spread over seeds, with one rule for all:

- a difference is **reproduced** when its mean over seeds is more than two standard errors
  away from zero in the claimed direction (paired per seed where the runs are paired);
- **not reproduced** when it is not (including when it goes the other way);
- **not testable** when the runs cannot answer (too few seeds or epochs, or a claim with no
  measurable content).

Two standard errors with three to five seeds is a rough screen, not a significance test;
the tables show the numbers so a reader can judge for themselves.
"""
from __future__ import annotations

import math

from ..metrics.stats import mean_sd, welch
from ..tables import Table

# Seed 004 (training report of session 20250818_224127), quoted with credit.
PUBLISHED = {
    "f1_attention": 0.4462, "best_epoch": 23, "interrupted_at": 25,
    "f1_baseline": (0.35, 0.40),                  # "approximate from previous training sessions"
    "f1_by_epoch": {1: 0.044, 5: 0.245, 15: 0.412, 20: 0.393, 23: 0.4462},
    "dip": (15, 20),                               # epochs; F1 0.412 -> 0.393
    "ece": {"raw": 0.0489, "temperature": 0.0149, "platt": 0.0199},
    "n_params": 2_755_842,
}
VERDICTS = ("reproduced", "not reproduced", "not testable")


def fmt_spread(xs, digits=3) -> str:
    m, sd, n = mean_sd(xs)
    return f"{m:.{digits}f} ± {sd:.{digits}f} (n={n})" if n > 1 else (f"{m:.{digits}f} (n=1)" if n else "–")


def verdict(diffs, *, welch_with=None) -> tuple:
    """Verdict on "the mean of ``diffs`` is > 0": paired differences, or (``welch_with``) two samples
    ``diffs`` vs ``welch_with`` compared by their means. Returns (verdict, mean difference, standard error)."""
    if welch_with is None:
        m, sd, n = mean_sd(diffs)
        if n < 2:
            return "not testable", m, float("nan")
        se = sd / math.sqrt(n)
    else:
        m, se = welch(mean_sd(diffs), mean_sd(welch_with))
        if not math.isfinite(se):
            return "not testable", m, se
    return ("reproduced" if m - 2 * se > 0 else "not reproduced"), m, se


def ece_of(run, which="raw", positions="all"):
    return run.calibration[positions][which]["ece"]


def dip_changes(runs, window=PUBLISHED["dip"]) -> list:
    """Dev F1 at the window's last epoch minus at its first (1-based), for each run long enough."""
    a, b = window
    return [r.history[b - 1]["dev_f1"] - r.history[a - 1]["dev_f1"] for r in runs if len(r.history) >= b]


def five_epoch_swings(runs, width=5, first=10) -> list:
    """Every change of dev F1 over ``width`` epochs from epoch ``first`` on (past the first climb), in
    every run: how much a curve moves by itself."""
    return [r.history[e + width]["dev_f1"] - r.history[e]["dev_f1"]
            for r in runs for e in range(first - 1, len(r.history) - width)]


def dip_verdict(att_runs, base_runs=()) -> dict:
    """Is there a drop of dev F1 from epoch 15 to 20 beyond seed-to-seed noise? And how large is
    the seed's single-run drop (-0.019) against how much our curves move over any 5 epochs?"""
    d = dip_changes(att_runs)
    v, m, se = verdict([-x for x in d])                      # the claim: F1 falls, so -change > 0
    swing = mean_sd([abs(x) for x in five_epoch_swings(att_runs)])[0]
    pub = PUBLISHED["f1_by_epoch"]
    seed_drop = pub[20] - pub[15]
    return {"verdict": v, "mean_change": mean_sd(d)[0], "se": se, "changes": d,
            "baseline_changes": dip_changes(base_runs), "typical_5_epoch_swing": swing,
            "seed_drop": seed_drop, "seed_drop_within_swing": abs(seed_drop) <= swing}


def claims(att_runs, base_runs) -> list:
    """One dict per claim: what the seed said, what we measured, the verdict and its rule."""
    f1a, f1b = [r.test["f1"] for r in att_runs], [r.test["f1"] for r in base_runs]
    gain = verdict(f1a, welch_with=f1b)
    dip = dip_verdict(att_runs, base_runs)
    t_gain = verdict([ece_of(r) - ece_of(r, "temperature") for r in att_runs])
    p_gain = verdict([ece_of(r) - ece_of(r, "platt") for r in att_runs])
    t_vs_p = verdict([ece_of(r, "platt") - ece_of(r, "temperature") for r in att_runs])
    bayes = mean_sd([r.bayes["at_best"]["f1"] for r in att_runs])[0]
    below = verdict([0.015 - ece_of(r, "temperature") for r in att_runs])
    pub = PUBLISHED
    out = [
        {"claim": "attention raises boundary F1",
         "seed": f"{pub['f1_attention']} vs ~{pub['f1_baseline'][0]:.2f}-{pub['f1_baseline'][1]:.2f} (+6-10 points)",
         "measured": f"{fmt_spread(f1a)} vs {fmt_spread(f1b)}; Δ {gain[1]:+.3f} ± {gain[2]:.3f} (se)",
         "verdict": gain[0], "rule": "Δ mean test F1 > 2 se (Welch)"},
        {"claim": "a dip at epochs 15-20, then recovery (heads reorganising)",
         "seed": f"dev F1 {pub['f1_by_epoch'][15]} -> {pub['f1_by_epoch'][20]} ({dip['seed_drop']:+.3f}), one run",
         "measured": (f"change 15->20: {fmt_spread(dip['changes'])}; any 5 epochs move "
                      f"{dip['typical_5_epoch_swing']:.3f} on average (from epoch 10)" if dip["changes"] else "runs shorter than 20 epochs"),
         "verdict": dip["verdict"], "rule": "mean drop 15->20 over seeds > 2 se"},
        {"claim": "temperature scaling lowers ECE",
         "seed": f"{pub['ece']['raw']} -> {pub['ece']['temperature']}",
         "measured": f"{fmt_spread([ece_of(r) for r in att_runs], 4)} -> "
                     f"{fmt_spread([ece_of(r, 'temperature') for r in att_runs], 4)}",
         "verdict": t_gain[0], "rule": "paired drop > 2 se (all tokens)"},
        {"claim": "Platt scaling lowers ECE",
         "seed": f"{pub['ece']['raw']} -> {pub['ece']['platt']}",
         "measured": f"-> {fmt_spread([ece_of(r, 'platt') for r in att_runs], 4)}",
         "verdict": p_gain[0], "rule": "paired drop > 2 se (all tokens)"},
        {"claim": "temperature beats Platt",
         "seed": f"{pub['ece']['temperature']} < {pub['ece']['platt']}",
         "measured": f"Platt - temperature {t_vs_p[1]:+.4f} ± {t_vs_p[2]:.4f} (se)",
         "verdict": t_vs_p[0], "rule": "paired difference > 2 se"},
        {"claim": "well calibrated after scaling (ECE < 0.015)",
         "seed": f"{pub['ece']['temperature']} (temperature)",
         "measured": f"all tokens {fmt_spread([ece_of(r, 'temperature') for r in att_runs], 4)}; the uncertain "
                     f"'and's {fmt_spread([ece_of(r, 'temperature', 'candidates') for r in att_runs], 4)} "
                     f"(true posterior {att_runs[0].bayes['candidates']['ece']:.4f})" if att_runs else "–",
         "verdict": below[0], "rule": "mean + 2 se < 0.015 (all tokens)"},
        {"claim": "production-ready",
         "seed": "stated, no criterion given",
         "measured": f"test F1 {mean_sd(f1a)[0]:.3f} vs the Bayes-optimal {bayes:.3f} on the same streams",
         "verdict": "not testable", "rule": "no requirement to test against"},
    ]
    assert all(c["verdict"] in VERDICTS for c in out)
    return out


def claims_table(att_runs, base_runs, title="seed 004's claims -> what we measured") -> Table:
    scale = {r.scale for r in [*att_runs, *base_runs]}
    note = (f"Runs: {len(att_runs)} seeds with attention, {len(base_runs)} without, scale {', '.join(sorted(scale))}; "
            "mean ± sd over seeds. The seed's figures come from its own data; only directions compare.")
    rows = claims(att_runs, base_runs)
    return Table(["claim", "seed 004 reported", "we measured", "verdict", "rule"],
                 [[c["claim"], c["seed"], c["measured"], c["verdict"], c["rule"]] for c in rows], title, note)
