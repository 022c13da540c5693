"""Lab 4's figures and its live panel: learning-rate curves, where training fails, attention statistics
over training, the length test; and a panel that reruns a slice of the sweep (``experiments.stability``).

Core ipywidgets controls, ``Output`` and matplotlib only. The figures read run records (dicts, as
``stability.load`` returns them, or fresh ones from ``stability.run``).
"""
from __future__ import annotations

import statistics

import matplotlib.pyplot as plt
import numpy as np

from . import viz  # noqa: F401  (applies the course's figure style, as on the book's pages)
from .experiments import stability as S
from .experiments import stability_claims as SC

GROUPS = {   # the variants, in the panels of the learning-rate figure
    "softmax and friends": ["softmax", "cosine", "cosine_tau", "qk_layernorm", "sigmoid"],
    "ReLU on cosine scores": ["cosine_relu", "cosine_relu_L", "cosine_relu_sqrtL", "cosine_relu_Lalpha",
                              "qkv_norm_relu"],
    "distances": ["softmax", "euclidean", "manhattan", "minkowski"],
    "cosine: the log's optimiser toggles": [("cosine", t) for t in S.TOGGLES],
}


def _key(v):
    return v if isinstance(v, tuple) else (v, "adamw")


def plot_lr_curves(runs, variants, ax=None, title="", faint=False):
    """Final dev loss against the learning rate: mean over seeds (line), each seed (dots), runs that did not
    train (crosses; a diverged run at its initial loss), with the MLM floor and the unigram baseline.
    ``faint``: pale, unlabelled lines only (a background for other runs)."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    if faint:
        for i, v in enumerate(variants):
            by_lr = SC.cells(runs).get(_key(v), {})
            ax.plot(list(by_lr), [statistics.fmean(SC.final_loss(r) for r in rs) for rs in by_lr.values()],
                    "-", color=f"C{i}", lw=3, alpha=0.25)
        return ax
    cells, thr = SC.cells(runs), SC.threshold(runs)
    for i, v in enumerate(variants):
        key = _key(v)
        if key not in cells:
            continue
        by_lr = cells[key]
        lrs = list(by_lr)
        means = [statistics.fmean(SC.final_loss(r) for r in by_lr[lr]) for lr in lrs]
        label = key[0] if key[1] == "adamw" else f"{key[0]} · {key[1]}"
        ax.plot(lrs, means, "-", color=f"C{i}", lw=1.5, label=label)
        for lr in lrs:
            for r in by_lr[lr]:
                ax.plot(lr, SC.final_loss(r), "x" if not SC.trained(r, thr) else ".", color=f"C{i}", ms=5, alpha=0.8)
    any_run = runs[0]
    ax.axhline(any_run["floor"], color="k", lw=1, ls=":", label="MLM floor")
    ax.axhline(any_run["unigram"], color="k", lw=1, ls="--", label="unigram")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("dev MLM loss (nats)")
    ax.set_title(title)
    ax.legend(fontsize=10, ncol=2, loc="lower center", handlelength=1.2, columnspacing=0.8)
    return ax


def lr_figure(runs):
    """The four groups of ``GROUPS`` as a 2 x 2 figure."""
    fig, axes = plt.subplots(2, 2, figsize=(7, 7), sharey=True, constrained_layout=True)
    for ax, (title, variants) in zip(axes.flat, GROUPS.items()):
        plot_lr_curves(runs, variants, ax, title)
    for ax in axes[:, 1]:
        ax.set_ylabel("")
    return fig


def trained_grid(runs, ax=None):
    """Variants x learning rates: how many seeds trained (``stability_claims.trained``)."""
    cells, thr = SC.cells(runs), SC.threshold(runs)
    keys = list(cells)
    lrs = sorted({lr for c in cells.values() for lr in c})
    grid = np.array([[sum(SC.trained(r, thr) for r in cells[k].get(lr, [])) for lr in lrs] for k in keys], dtype=float)
    ax = ax or plt.subplots(figsize=(7, 0.32 * len(keys) + 1), constrained_layout=True)[1]
    n = max(len(rs) for c in cells.values() for rs in c.values())
    ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=n, aspect="auto")
    for i in range(len(keys)):
        for j in range(len(lrs)):
            ax.text(j, i, f"{int(grid[i, j])}/{n}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(len(keys)), [k[0] if k[1] == "adamw" else f"{k[0]} · {k[1]}" for k in keys],
                  fontsize=10)
    ax.set_xlabel("learning rate")
    ax.set_title("seeds that trained")
    return ax


def plot_stat(runs, variants, lr, stat, ax=None):
    """``stat`` (``max_logit``, ``entropy`` or ``output_norm``) over training at learning rate ``lr``,
    mean over the seeds that finished."""
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    cells = SC.cells(runs)
    for i, v in enumerate(variants):
        rs = [r for r in cells.get(_key(v), {}).get(lr, []) if not r["diverged"]]
        if not rs:
            continue
        steps = [s["step"] for s in rs[0]["stats"]]
        vals = np.nanmean([[s[stat] for s in r["stats"]] for r in rs], axis=0)
        ax.plot(steps, vals, "-", color=f"C{i}", label=_key(v)[0])
    ax.set_xlabel("step")
    ax.set_ylabel(stat.replace("_", " "))
    ax.set_title(f"lr {lr:g}")
    if stat == "max_logit":
        ax.set_yscale("log")
    return ax


def stats_figure(runs, variants, lrs, stats=("max_logit", "entropy")):
    """Rows: statistics; columns: learning rates."""
    fig, axes = plt.subplots(len(stats), len(lrs), figsize=(7, 2.6 * len(stats)), squeeze=False,
                             constrained_layout=True)
    for i, stat in enumerate(stats):
        for j, lr in enumerate(lrs):
            plot_stat(runs, variants, lr, stat, axes[i][j])
    axes[0][0].legend(fontsize=10, handlelength=1.2)
    return fig


def length_records(runs) -> list:
    """Per AdamW variant, at its best learning rate: output-norm growth and extra loss at up to 4x the length."""
    out = []
    for (v, t), s in SC.summaries(runs).items():
        if t != "adamw":
            continue
        rs = [r for r in SC.cells(runs)[(v, t)][s["best_lr"]] if not r["diverged"]]
        growth = [r["output_norm_long"] / r["output_norm_short"] for r in rs]
        penalty = [(r["long_dev_loss"] - r["long_floor"]) - (r["dev_loss"] - r["floor"]) for r in rs]
        out.append({"variant": v, "lr": s["best_lr"], "norm growth": statistics.fmean(growth),
                    "extra loss at 4x": statistics.fmean(penalty),
                    "sd": statistics.stdev(penalty) if len(penalty) > 1 else 0.0})
    return out


# The ReLU normalisers' exponent alpha (weights relu(s) / L^alpha); the softmax's weights sum to 1, like alpha = 1.
RULE_ALPHA = {"softmax": 1.0, "cosine_relu": 0.0, "cosine_relu_sqrtL": 0.5, "cosine_relu_L": 1.0,
              "cosine_relu_Lalpha": None}     # None: the exponent each run learned


def length_rule(runs) -> dict:
    """Chapter 4's rule beside the length test: a row's weights over L keys sum to about L^(1 - alpha) times
    their mean size, so an untrained layer's output would grow by the ratio of L^(1 - alpha) between the
    long and the short probe sentences, averaged per token as the output norm is. Returns the probe lengths
    and, per variant of ``RULE_ALPHA``, alpha, the rule's growth, the measured growth and their ratio."""
    d = S.prepare_data(*(runs[0]["config"]["data"][k] for k in S.DATA_KEYS))
    lengths = {k: d[k]["batches"][0].pad_mask.sum(1).double() for k in ("short", "long")}   # real tokens per row

    def per_token(L, alpha):          # the mean over real tokens of L^(1 - alpha), L its own sentence's length
        return float((L * L ** (1 - alpha)).sum() / L.sum())

    measured = {r["variant"]: r for r in length_records(runs)}
    summ = SC.summaries(runs)
    rows = []
    for v, alpha in RULE_ALPHA.items():
        if alpha is None:             # the learned exponent, mean over the seeds at the best rate
            best = SC.cells(runs)[v, "adamw"][summ[v, "adamw"]["best_lr"]]
            alpha = statistics.fmean(r["learned"]["alpha"] for r in best if not r["diverged"])
        rule = per_token(lengths["long"], alpha) / per_token(lengths["short"], alpha)
        got = measured[v]["norm growth"]
        rows.append({"variant": v, "alpha": round(alpha, 2), "rule": rule, "measured": got,
                     "measured / rule": got / rule})
    return {"short": float(lengths["short"].mean()), "long": float(lengths["long"].mean()), "rows": rows}


def length_figure(runs):
    recs = length_records(runs)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7, 4.6), constrained_layout=True)
    names = [r["variant"] for r in recs]
    a1.barh(names, [r["norm growth"] for r in recs], color="tab:blue")
    a1.axvline(1, color="k", lw=1)
    a1.set_xlabel("output norm, long / short")
    a2.barh(names, [r["extra loss at 4x"] for r in recs], xerr=[r["sd"] for r in recs], color="tab:orange")
    a2.set_yticks([])
    a2.set_xlabel("extra loss above floor (nats)")
    a1.tick_params(axis="y", labelsize=10)
    fig.suptitle("trained at one length, scored at up to 4x it (best rate of each)")
    return fig


# ---------------------------------------------------------------- the live panel
class StabilityPanel:
    """Pick variants and learning rates, press Run: the runs appear over the stored sweep's curves."""

    def __init__(self, stored, variants=("softmax", "cosine", "cosine_relu_L"), lrs=None, scale="auto", seed=0):
        import ipywidgets as W
        from .scale import resolve_scale
        self.stored, self.results = stored, []
        scale = resolve_scale(scale)
        grid = S.SCALE_SETTINGS[scale]["lrs"]
        self.picks = {v: W.Checkbox(value=v in variants, description=v, indent=False, layout=W.Layout(width="auto"))
                      for v in S.VARIANTS}
        self.lrs = W.SelectMultiple(options=[f"{x:g}" for x in grid], value=[f"{x:g}" for x in (lrs or grid)],
                                    description="lr", rows=len(grid))
        self.scale = W.Dropdown(options=list(S.SCALE_SETTINGS), value=scale, description="scale")
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="160px"))
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.status, self.out = W.HTML(), W.Output()
        self.button.on_click(lambda _: self.run())
        wrap = W.Layout(flex_flow="row wrap", align_items="center")
        self.widget = W.VBox([W.HBox(list(self.picks.values()), layout=wrap),
                              W.HBox([self.lrs, self.scale, self.seed, self.button], layout=wrap),
                              self.status, self.out])

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)

    def draw(self):
        with self.out:
            self.out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
            names = sorted({r["variant"] for r in self.results})
            same = [r for r in self.stored if r["toggle"] == "adamw" and r["scale"] == self.scale.value]
            if same:
                plot_lr_curves(same, names, ax, faint=True)
            plot_lr_curves(self.results, names, ax, f"your runs (solid) over the stored sweep (faint), "
                                                    f"{self.scale.value} scale")
            plt.show()

    def run(self, variants=None, lrs=None):
        """Run the picked variants at the picked rates (or the arguments); returns the new records."""
        variants = variants or [v for v, box in self.picks.items() if box.value]
        lrs = lrs or [float(x) for x in self.lrs.value]
        new = []
        self.button.disabled = True
        try:
            for v in variants:
                for lr in lrs:
                    self.status.value = f"running <b>{v}</b> at lr {lr:g} ({self.scale.value} scale) …"
                    r = S.run(v, lr=lr, scale=self.scale.value, seed=self.seed.value)
                    self.results.append(r)
                    new.append(r)
            self.status.value = f"done: {len(new)} run(s), {sum(r['train_seconds'] for r in new):.0f} s of training"
            self.draw()
        finally:
            self.button.disabled = False
        return new
