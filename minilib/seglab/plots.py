"""Lab 5's figures: training curves, every seed's dev F1 per epoch, reliability diagrams, attention heads.

In the course style (``minilib.style``, applied on import): sized for the book's column,
no text smaller than the style's sizes.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import style
from .claims import PUBLISHED

style.apply()
WIDTH = style.COLUMN_INCHES
VARIANT_COLORS = {"attention": "C0", "no_attention": "C1", "attention_lambda0": "C2"}


def plot_curves(histories, axes=None, title="dev F1"):
    """Dev F1 (left) and train / dev loss (right) per epoch; ``histories``: {label: history list}."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2), constrained_layout=True)
    ax_f1, ax_loss = axes
    for i, (label, h) in enumerate(histories.items()):
        ep = [x["epoch"] for x in h]
        ax_f1.plot(ep, [x["dev_f1"] for x in h], "o-", ms=3, color=f"C{i}", label=label)
        ax_loss.plot(ep, [x["train_loss"] for x in h], "-", color=f"C{i}")
        ax_loss.plot(ep, [x["dev_loss"] for x in h], "--", color=f"C{i}")
    ax_f1.set(xlabel="epoch", ylabel="dev boundary F1", title=title)
    ax_loss.set(xlabel="epoch", ylabel="nats per token", title="train loss (—), dev NLL (--)")
    ax_f1.legend(fontsize=10)
    return axes


def plot_seed_curves(runs_by_variant, ax=None, window=PUBLISHED["dip"], bayes=None):
    """Per-epoch dev F1 of every seed of every variant on one plot, the reported dip's epochs shaded."""
    ax = ax or plt.subplots(figsize=(WIDTH, 3.8), constrained_layout=True)[1]
    ax.axvspan(*window, color="0.88", label=f"epochs {window[0]}-{window[1]}")
    for variant, runs in runs_by_variant.items():
        for k, r in enumerate(runs):
            ax.plot(range(1, len(r.history) + 1), r.curve(), "-", lw=1.2, alpha=0.75,
                    color=VARIANT_COLORS.get(variant, "k"), label=f"{variant} ({len(runs)} seeds)" if k == 0 else None)
    if bayes is not None:
        ax.axhline(bayes, color="k", ls=":", lw=1.2, label=f"Bayes-optimal ({bayes:.3f})")
    ax.set(xlabel="epoch", ylabel="dev boundary F1")
    ax.legend(fontsize=10, loc="lower right")
    return ax


def plot_reliability(bins_by_name, ax=None, title="candidate tokens ('and'), test"):
    """Reliability diagram: per bin, the share of true boundaries against the mean predicted probability."""
    ax = ax or plt.subplots(figsize=(WIDTH / 2, 3.5), constrained_layout=True)[1]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    for i, (name, b) in enumerate(bins_by_name.items()):
        conf = np.array([np.nan if x is None else x for x in b["confidence"]], dtype=float)
        freq = np.array([np.nan if x is None else x for x in b["frequency"]], dtype=float)
        ok = np.isfinite(conf)
        ax.plot(conf[ok], freq[ok], "o-", ms=4, lw=1.3, color="k" if name.startswith("Bayes") else f"C{i}",
                label=name)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted p(boundary)", ylabel="share of boundaries", title=title)
    ax.legend(fontsize=10, loc="upper left")
    return ax


def plot_heads(weights, tokens, labels, start=0, width=None):
    """Every head's attention weights on one stream, or a window of it (rows: queries, columns: keys).

    ``weights`` [H, T, T]; each head's colours run from 0 to its largest weight shown (in the title).
    Dashed lines mark the true boundaries; in windows of at most 30 tokens the joiner tokens are
    labelled (``and|`` where a sentence really ends).
    """
    w = np.asarray(weights, dtype=float)
    H = w.shape[0]
    stop = len(tokens) if width is None else min(start + width, len(tokens))
    cols = min(4, H)
    rows = int(np.ceil(H / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 1.9 * rows + 0.9), squeeze=False, constrained_layout=True)
    ticks = [i - start for i in range(start, stop) if tokens[i] == "and"] if stop - start <= 30 else []
    names = ["and|" if labels[i + start] else "and" for i in ticks]
    cuts = [i - start + 0.5 for i in range(start, stop - 1) if labels[i]]
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= H:
            ax.axis("off")
            continue
        block = w[h, start:stop, start:stop]
        ax.imshow(block, cmap="viridis", vmin=0, vmax=block.max(), interpolation="nearest")
        for c in cuts:
            ax.axvline(c, color="w", lw=0.6, ls="--")
            ax.axhline(c, color="w", lw=0.6, ls="--")
        ax.set_title(f"head {h} (max {block.max():.2f})", fontsize=11)
        ax.set_xticks(ticks, names if h // cols == rows - 1 else [], rotation=90)
        ax.set_yticks(ticks, names if h % cols == 0 else [])
    fig.supxlabel(f"key (tokens {start}-{stop - 1} of the stream; dashed: true boundaries)")
    return fig
