"""Lab 5's figures: training curves, the epoch-15-20 window over seeds, reliability diagrams, attention heads.

All are sized for the book's column (at most 7 inches wide, fonts of 10 pt or more).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .claims import PUBLISHED

VARIANT_COLORS = {"attention": "C0", "no_attention": "C1", "attention_lambda0": "C2"}


def plot_curves(histories, axes=None, title=""):
    """Dev F1 (left) and train / dev loss (right) per epoch; ``histories``: {label: history list}."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 2.8), constrained_layout=True)
    ax_f1, ax_loss = axes
    for i, (label, h) in enumerate(histories.items()):
        ep = [x["epoch"] for x in h]
        ax_f1.plot(ep, [x["dev_f1"] for x in h], "o-", ms=3, color=f"C{i}", label=label)
        ax_loss.plot(ep, [x["train_loss"] for x in h], "-", color=f"C{i}", label=f"{label} train")
        ax_loss.plot(ep, [x["dev_loss"] for x in h], "--", color=f"C{i}", label=f"{label} dev")
    ax_f1.set(xlabel="epoch", ylabel="dev boundary F1", title=title or "dev F1")
    ax_loss.set(xlabel="epoch", ylabel="loss (nats/token)", title="train (smoothed CE + λR) / dev NLL")
    for ax in axes:
        ax.legend(fontsize=8)
    return axes


def plot_seed_curves(runs_by_variant, ax=None, window=PUBLISHED["dip"], bayes=None):
    """Per-epoch dev F1 of every seed of every variant on one plot, the seed's dip window shaded."""
    ax = ax or plt.subplots(figsize=(7, 3.6), constrained_layout=True)[1]
    ax.axvspan(*window, color="0.9", label=f"epochs {window[0]}-{window[1]} (the reported dip)")
    for variant, runs in runs_by_variant.items():
        for k, r in enumerate(runs):
            ax.plot(range(1, len(r.history) + 1), r.curve(), "-", lw=1.2, alpha=0.8,
                    color=VARIANT_COLORS.get(variant, "k"), label=f"{variant} ({len(runs)} seeds)" if k == 0 else None)
    if bayes is not None:
        ax.axhline(bayes, color="k", ls=":", lw=1, label=f"Bayes-optimal test F1 {bayes:.3f}")
    ax.set(xlabel="epoch", ylabel="dev boundary F1")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_reliability(bins_by_name, ax=None, title="reliability on the candidate tokens (test)"):
    """Reliability diagram: per bin, share of true boundaries against mean predicted probability."""
    ax = ax or plt.subplots(figsize=(4.2, 4.0), constrained_layout=True)[1]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    for i, (name, b) in enumerate(bins_by_name.items()):
        conf = np.array([np.nan if x is None else x for x in b["confidence"]], dtype=float)
        freq = np.array([np.nan if x is None else x for x in b["frequency"]], dtype=float)
        ok = np.isfinite(conf)
        ax.plot(conf[ok], freq[ok], "o-", ms=4, color="k" if name.startswith("Bayes") else f"C{i}", label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted p(boundary)", ylabel="share that are boundaries", title=title)
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_heads(weights, tokens, labels, start=0, width=28, posterior=None):
    """Every head's attention weights on a window of one stream (rows: queries, columns: keys).
    ``weights`` [H, T, T]; true boundaries are marked with ``|`` after the token on the axes."""
    w = np.asarray(weights, dtype=float)
    H = w.shape[0]
    stop = min(start + width, len(tokens))
    names = [t + ("|" if y else "") for t, y in zip(tokens[start:stop], labels[start:stop])]
    cols = 4 if H >= 4 else H
    rows = int(np.ceil(H / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(7, 1.95 * rows + 0.9), squeeze=False, constrained_layout=True)
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= H:
            ax.axis("off")
            continue
        ax.imshow(w[h, start:stop, start:stop], cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
        if h % cols == 0:
            ax.set_yticks(range(stop - start), names, fontsize=5)
    fig.supxlabel(f"keys = the same {stop - start} tokens ('|' = a true boundary follows)", fontsize=10)
    return fig
