"""Plots for the labs: loss curves, results against the published figures, attention maps, bertviz."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np


def smooth(xs, window=25):
    """Moving average (the first points average what exists so far)."""
    xs = np.asarray(xs, dtype=float)
    if len(xs) == 0:
        return xs
    c = np.cumsum(np.insert(xs, 0, 0.0))
    w = np.minimum(np.arange(1, len(xs) + 1), window)
    return (c[1:] - c[np.arange(1, len(xs) + 1) - w]) / w


def plot_losses(runs, ax=None, references=(), floor=None, title="training loss", window=25):
    """Train-loss curves of runs (solid) and reference runs (dashed), with each scale's entropy floor."""
    ax = ax or plt.subplots(figsize=(7, 3.6))[1]
    for r in references:
        ax.plot(smooth(r.losses, window), "--", alpha=0.45, label=f"reference {r.variant} ({r.scale}, seed {r.seed})")
    for r in runs:
        ax.plot(smooth(r.losses, window), label=f"{r.variant} ({r.scale}, seed {r.seed})")
    floors = {r.scale: r.entropy_floor for r in [*references, *runs] if math.isfinite(r.entropy_floor)}
    if floor is not None and not floors:
        floors = {"": floor}
    for i, (scale, f) in enumerate(sorted(floors.items())):
        ax.axhline(f, color="k", lw=1, ls=[":", "-."][i % 2], label=f"entropy floor {scale} {f:.2f}".replace("  ", " "))
    ax.set(xlabel="step", ylabel="loss (nats/token)", title=title)
    ax.legend(fontsize=8)
    return ax


def plot_metric_bars(groups, metric, ax=None, published=None, ylabel=None):
    """Mean ± standard deviation of ``metric`` per variant, each seed as a dot; the y-axis is zoomed to the data
    so gaps of a few hundredths show (published values, if given, as red crosses)."""
    ax = ax or plt.subplots(figsize=(5, 3.2))[1]
    variants = [v for v in groups if groups[v]]
    for i, v in enumerate(variants):
        vals = np.array([getattr(r, metric) for r in groups[v]], dtype=float)
        sd = vals.std(ddof=1) if len(vals) > 1 else 0.0
        ax.errorbar(i, vals.mean(), yerr=sd, fmt="o", color=f"C{i}", ms=9, capsize=6, lw=2)
        ax.plot(np.full(len(vals), i) + np.linspace(-0.12, 0.12, len(vals)), vals, "k.", ms=7, alpha=0.7)
        if published and v in published:
            ax.plot(i, published[v], "rx", ms=9, mew=2, label="published" if i == 0 else None)
    ax.set_xticks(range(len(variants)), variants, fontsize=10)
    ax.set_xlim(-0.6, len(variants) - 0.4)
    ax.set_ylabel(ylabel or metric, fontsize=10)
    ax.margins(y=0.25)
    if published:
        ax.legend(fontsize=8)
    return ax


def plot_attention_grid(weights, tokens, layer_titles=None, max_heads=8):
    """Grid of heatmaps: rows = layers, columns = heads. ``weights``: list of [H, T, T] (one sentence)."""
    n_layers, n_heads = len(weights), min(max_heads, weights[0].shape[0])
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(2.3 * n_heads, 2.3 * n_layers), squeeze=False)
    T = len(tokens)
    for l, w in enumerate(weights):
        for h in range(n_heads):
            ax = axes[l][h]
            ax.imshow(np.asarray(w[h][:T, :T], dtype=float), cmap="viridis", vmin=0, vmax=1)
            ax.set_title(f"layer {l} head {h}" if layer_titles is None else layer_titles[l], fontsize=8)
            ax.set_xticks([]), ax.set_yticks([])
            if h == 0 and T <= 24:
                ax.set_yticks(range(T), tokens, fontsize=7)
            if l == n_layers - 1 and T <= 24:
                ax.set_xticks(range(T), tokens, fontsize=7, rotation=90)
    fig.supxlabel("key (attended to)", fontsize=9)
    fig.supylabel("query", fontsize=9)
    fig.tight_layout()
    fig.colorbar(axes[0][0].images[0], ax=axes, shrink=0.8, label="weight")
    return fig


def head_view(model, tok, sentence_tokens):
    """bertviz's interactive head view, fed from MiniGPT's attention weights (no Hugging Face model needed)."""
    import torch
    from bertviz import head_view as _head_view
    ids = tok.encode(sentence_tokens, add_special=True)[:-1][: model.config.block_size]
    device = next(model.parameters()).device
    weights = model.attention_weights(torch.tensor([ids], device=device))      # n_layer x [1, H, T, T]
    labels = tok.decode(ids, skip_special=False)
    return _head_view([w.float().cpu() for w in weights], labels)


# ---------------------------------------------------------------- masking pitfalls (chapter 3)
def padded_heatmap(ax, w, pad_row, title):
    """Attention weights [T, T] as an image; dashed lines separate padding from real tokens."""
    T = w.shape[0]
    im = ax.imshow(w.numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
    for j in range(1, T):
        if pad_row[j] != pad_row[j - 1]:
            ax.axvline(j - 0.5, color="white", lw=1, ls="--")
            ax.axhline(j - 0.5, color="white", lw=1, ls="--")
    ticks = list(range(0, T, max(1, T // 8)))
    ax.set_xticks(ticks, [str(j) if pad_row[j] else f"{j}p" for j in ticks])
    ax.set_yticks(ticks, [str(j) if pad_row[j] else f"{j}p" for j in ticks])
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("key j  (p = padding)")
    ax.set_ylabel("query i")
    return im


def variant_figure(views, pad_row, layer=0):
    """The variants' heatmaps side by side, each titled with its variant and probe value."""
    fig, axes = plt.subplots(1, len(views), figsize=(3.4 * len(views) + 0.8, 3.6), constrained_layout=True)
    for ax, (v, view) in zip(axes, views.items()):
        im = padded_heatmap(ax, view["weights"][layer], pad_row, f"{v}\nmask probe = {view['probe']:.2g}")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="attention weight")
    return fig
