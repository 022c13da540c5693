"""Chapter 4 ("Beyond softmax"): the numbers its derivations assert, its panel, its exercise's checker.

- ``cosine_weight_bound`` / ``tau_for_weight``: with cosine scores ``tau * cos`` in [-tau, tau], the largest
  softmax weight among n keys is at most ``e^(2 tau) / (e^(2 tau) + n - 1)``; and the tau a target weight needs;
- ``best_case_cosine``: the keys that reach that bound (one key along the query, the rest opposite), run
  through ``attention()``;
- ``norm_vs_length``: an attention layer's output norm and weight sum at initialisation, against the
  number of keys, for any score and normaliser (``metrics.layer_stats``);
- ``family_panel``: the widget (similarity, normaliser, tau, length) showing one query's weights and
  the output norm against the length.

The chapter's exercise checker lives with the others, in ``minilib.exercises.beyond_softmax``.
"""
from __future__ import annotations

import math

import torch

from .attention import MultiHeadAttention, attention
from .metrics import layer_stats


def cosine_weight_bound(tau: float, n: int) -> float:
    """The largest softmax weight one of ``n`` keys can get when every score lies in [-tau, tau]."""
    return math.exp(2 * tau) / (math.exp(2 * tau) + n - 1)


def tau_for_weight(w: float, n: int) -> float:
    """The smallest cosine scale tau at which one of ``n`` keys can get softmax weight ``w`` (0 < w < 1)."""
    if not 0 < w < 1 or n < 2:
        raise ValueError(f"need 0 < w < 1 and n >= 2 keys, got w={w}, n={n}")
    return 0.5 * math.log(w * (n - 1) / (1 - w))


def best_case_cosine(tau: float, n: int, d: int = 8, seed: int = 0):
    """Weights [n] of one query over n keys chosen to favour key 0 as much as cosine scores allow:
    key 0 points along the query (cos = 1), every other key against it (cos = -1)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, d, generator=g, dtype=torch.float64)
    scales = torch.rand(n, 1, generator=g, dtype=torch.float64) + 0.5     # lengths do not matter to a cosine
    k = torch.cat([q, -q.expand(n - 1, d)]) * scales
    _, w = attention(q, k, k, score="cosine", scale=tau, return_weights=True)
    return w[0]


@torch.no_grad()
def norm_vs_length(lengths, *, score="cosine", normaliser="softmax", d_model=32, n_heads=2, seeds=(0, 1, 2),
                   **options) -> dict:
    """Mean attention output norm and weight sum at initialisation for each sequence length in ``lengths``:
    inputs x ~ N(0, 1), a fresh ``MultiHeadAttention`` per seed (PyTorch's default init), no mask."""
    out = {"length": list(lengths), "output_norm": [], "weight_sum": []}
    for L in lengths:
        stats = []
        for seed in seeds:
            torch.manual_seed(seed)
            attn = MultiHeadAttention(d_model, n_heads, score=score, normaliser=normaliser, causal=False, **options)
            x = torch.randn(4, L, d_model, generator=torch.Generator().manual_seed(100 + seed))
            stats.append(layer_stats(attn, x))
        out["output_norm"].append(sum(s["output_norm"] for s in stats) / len(stats))
        out["weight_sum"].append(sum(s["weight_sum"] for s in stats) / len(stats))
    return out


# ---------------------------------------------------------------- the panel
PANEL_SIMILARITIES = ("cosine", "dot", "euclidean", "manhattan", "minkowski")
PANEL_NORMALISERS = ("softmax", "relu", "relu_L", "relu_sqrtL", "sigmoid")
PANEL_LENGTHS = (8, 16, 32, 64, 128, 256)


def one_query_weights(score, normaliser, tau, n_keys, d=16, seed=0):
    """Weights [n_keys] of one random query over random keys (unit-variance vectors), and the keys' scores."""
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, d, generator=g), torch.randn(n_keys, d, generator=g)
    params = {"scale": tau} if score == "cosine" else {}
    _, w = attention(q, k, k, score=score, normaliser=normaliser, return_weights=True, **params)
    return w[0]


def family_figure(score="cosine", normaliser="softmax", tau=1.0, n_keys=32):
    """Left: one query's weights over ``n_keys`` keys; right: output norm at init against the length."""
    import matplotlib.pyplot as plt

    from . import style
    style.apply()                     # the course's figure style, as on the book's pages
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 3.2), constrained_layout=True)
    w = one_query_weights(score, normaliser, tau, n_keys)
    ax1.bar(range(n_keys), w.numpy(), color="tab:blue")
    ax1.set_title(f"sum {float(w.sum()):.2f}, max {float(w.max()):.2f}")
    ax1.set_xlabel("key")
    ax1.set_ylabel(f"weight ({score} · {normaliser})")
    opts = {"tau": tau} if score == "cosine" else {}
    curve = norm_vs_length(PANEL_LENGTHS, score=score, normaliser=normaliser, seeds=(0,), **opts)
    ax2.plot(curve["length"], curve["output_norm"], "o-")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xticks(PANEL_LENGTHS, [str(n) for n in PANEL_LENGTHS])
    ax2.xaxis.set_minor_locator(plt.NullLocator())
    ax2.set_xlabel("number of keys L")
    ax2.set_ylabel("output norm at init")
    ax2.set_title("does the output grow with L?")
    return fig


def family_panel(score="cosine", normaliser="softmax", tau=1.0, n_keys=32):
    """Dropdowns (similarity, normaliser), a tau slider and a key-count slider over an ``Output`` with
    ``family_figure``. Core ipywidgets and matplotlib only. Returns ``(panel, update)``; the panel draws
    its default setting when built."""
    import ipywidgets as W
    import matplotlib.pyplot as plt
    sim = W.Dropdown(options=PANEL_SIMILARITIES, value=score, description="similarity")
    norm = W.Dropdown(options=PANEL_NORMALISERS, value=normaliser, description="normaliser")
    t = W.FloatLogSlider(value=tau, base=10, min=-1, max=2, step=0.1, description="tau (cosine)")
    n = W.IntSlider(value=n_keys, min=2, max=256, description="keys")
    out = W.Output()

    def update(*_):
        with out:
            out.clear_output(wait=True)
            family_figure(sim.value, norm.value, t.value, n.value)
            plt.show()

    for w in (sim, norm, t, n):
        w.observe(update, names="value")
    wrap = W.Layout(flex_flow="row wrap")
    update()
    return W.VBox([W.HBox([sim, norm], layout=wrap), W.HBox([t, n], layout=wrap), out]), update
