"""Plots for the labs: loss curves, results against floors and published figures, attention maps, bertviz.

Every figure is sized for the book's column in the course style (``minilib.style``, applied on
import): one or two panels per row, no text smaller than the body text allows.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from . import style

style.apply()
WIDTH = style.COLUMN_INCHES


def smooth(xs, window=25):
    """Moving average (the first points average what exists so far)."""
    xs = np.asarray(xs, dtype=float)
    if len(xs) == 0:
        return xs
    c = np.cumsum(np.insert(xs, 0, 0.0))
    w = np.minimum(np.arange(1, len(xs) + 1), window)
    return (c[1:] - c[np.arange(1, len(xs) + 1) - w]) / w


def _one_scale(runs):
    scales = {r.scale for r in runs}
    if len(scales) > 1:
        raise ValueError(f"runs of several scales ({sorted(scales)}) on one axis: their languages and floors "
                         "differ; plot each scale on its own axis")


def plot_losses(runs, ax=None, references=(), title="training loss", window=25, excess=False):
    """Train-loss curves of runs (solid) and reference runs (dashed) of ONE scale, with its entropy floor.

    ``excess=True`` plots loss minus the floor (0 = the best any honest model can do).
    """
    _one_scale([*runs, *references])
    ax = ax or plt.subplots(figsize=(WIDTH, 3.6))[1]
    for r in references:
        ax.plot(smooth(np.asarray(r.losses) - (r.entropy_floor if excess else 0), window), "--", alpha=0.5,
                label=f"reference {r.variant}, seed {r.seed}")
    for r in runs:
        ax.plot(smooth(np.asarray(r.losses) - (r.entropy_floor if excess else 0), window),
                label=f"{r.variant}, seed {r.seed}")
    floors = {r.entropy_floor for r in [*references, *runs] if math.isfinite(r.entropy_floor)}
    if floors:
        f = 0.0 if excess else next(iter(floors))
        ax.axhline(f, color="k", lw=1, ls=":", label="entropy floor" + ("" if excess else f" {f:.2f}"))
    scale = next(iter({r.scale for r in [*runs, *references]}), "")
    ax.set(xlabel="step", ylabel=("loss − floor" if excess else "loss") + " (nats/token)",
           title=f"{title} ({scale} scale)" if scale else title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return ax


def plot_metric_bars(groups, metric, ax=None, published=None, ylabel=None):
    """Mean ± standard deviation of ``metric`` per variant, each seed as a dot; the y-axis is zoomed to the data
    so gaps of a few hundredths show (published values, if given, as red crosses)."""
    ax = ax or plt.subplots(figsize=(WIDTH / 2, 3.4))[1]
    variants = [v for v in groups if groups[v]]
    for i, v in enumerate(variants):
        vals = np.array([getattr(r, metric) for r in groups[v]], dtype=float)
        sd = vals.std(ddof=1) if len(vals) > 1 else 0.0
        ax.errorbar(i, vals.mean(), yerr=sd, fmt="o", color=f"C{i}", ms=9, capsize=6, lw=2)
        ax.plot(np.full(len(vals), i) + np.linspace(-0.12, 0.12, len(vals)), vals, "k.", ms=7, alpha=0.7)
        if published and v in published:
            ax.plot(i, published[v], "rx", ms=9, mew=2, label="published" if i == 0 else None)
    ax.set_xticks(range(len(variants)), variants)
    ax.set_xlim(-0.6, len(variants) - 0.4)
    ax.set_ylabel(ylabel or metric)
    ax.margins(y=0.25)
    if published:
        ax.legend()
    return ax


def plot_floor_distance(results, ax=None, published_ratio=None, title="dev loss minus the entropy floor"):
    """Dev loss minus the floor of every run, grouped by scale and variant (one dot per seed).

    Below 0 is impossible for an honest model: only a model that sees the future gets there.
    """
    ax = ax or plt.subplots(figsize=(WIDTH, 3.4))[1]
    groups = {}
    for r in results:
        groups.setdefault((r.scale, r.variant), []).append(r.dev_loss - r.entropy_floor)
    keys = sorted(groups, key=lambda k: (["smoke", "cpu", "paper"].index(k[0]), k[1]))
    for i, k in enumerate(keys):
        vals = groups[k]
        ax.plot(np.full(len(vals), i) + np.linspace(-0.1, 0.1, len(vals)), vals, "o", ms=8,
                color="tab:red" if min(vals) < 0 else "tab:blue")
    ax.axhline(0, color="k", lw=1, ls=":")
    ax.text(len(keys) - 0.5, 0, " floor", va="bottom", ha="right")
    ax.set_xticks(range(len(keys)), [f"{v}\n({s})" for s, v in keys])
    ax.set_xlim(-0.6, len(keys) - 0.4)
    ax.set(ylabel="dev loss − floor (nats)", title=title)
    ax.margins(y=0.2)
    return ax


def token_labels(tokenizer, ids):
    """One label per id the model saw, specials included (``<START>`` too): the axes of its attention map."""
    ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
    return tokenizer.decode([int(i) for i in ids], skip_special=False)


def plot_attention(ax, w, labels, title=""):
    """One head's attention weights ``w [T, T]`` (row = query, column = key) with a label per token."""
    w = np.asarray(w, dtype=float)
    if not (w.ndim == 2 and w.shape[0] == w.shape[1] == len(labels)):
        raise ValueError(f"{len(labels)} labels for a {w.shape} attention map: label every token the model "
                         "saw (minilib.viz.token_labels(tokenizer, ids))")
    im = ax.imshow(w, cmap="viridis", vmin=0, vmax=1)
    T = len(labels)
    step = max(1, math.ceil(T / 16))                  # at most 16 labels per axis: 11-pt text fits
    ticks = list(range(0, T, step))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=90)
    ax.set_yticks(ticks, [labels[i] for i in ticks])
    ax.set_title(title)
    return im


def plot_attention_grid(weights, labels, heads=(0, 1), title=""):
    """Attention maps of one sentence: a row per layer, a column per head in ``heads`` (two fit the column).

    ``weights``: list (one per layer) of [H, T, T]; ``labels``: one per token the model saw.
    """
    heads = [h for h in heads if h < weights[0].shape[0]]
    n_layers = len(weights)
    fig, axes = plt.subplots(n_layers, len(heads), figsize=(WIDTH, 3.6 * n_layers), squeeze=False,
                             constrained_layout=True)
    for l, w in enumerate(weights):
        for c, h in enumerate(heads):
            im = plot_attention(axes[l][c], np.asarray(w[h], dtype=float), labels, f"layer {l}, head {h}")
    fig.colorbar(im, ax=axes, shrink=0.6, label="weight")
    if title:
        fig.suptitle(title)
    return fig


def head_view(model, tok, sentence_tokens):
    """bertviz's interactive head view, fed from MiniGPT's attention weights (no Hugging Face model needed)."""
    import torch
    from bertviz import head_view as _head_view
    ids = tok.encode(sentence_tokens, add_special=True)[:-1][: model.config.block_size]
    device = next(model.parameters()).device
    weights = model.attention_weights(torch.tensor([ids], device=device))      # n_layer x [1, H, T, T]
    return _head_view([w.float().cpu() for w in weights], token_labels(tok, ids))


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
    ax.set_title(title)
    ax.set_xlabel("key j  (p = padding)")
    ax.set_ylabel("query i")
    return im


def variant_figure(views, pad_row, layer=0):
    """The variants' heatmaps side by side, each titled with its variant and probe value."""
    n = len(views)
    cols = 2 if n > 1 else 1
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, 3.4 * rows), squeeze=False, constrained_layout=True)
    for ax, (v, view) in zip(axes.flat, views.items()):
        im = padded_heatmap(ax, view["weights"][layer], pad_row, f"{v}\nmask probe = {view['probe']:.2g}")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    return fig
