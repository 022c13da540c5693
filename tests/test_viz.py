"""Plots label what the model saw, refuse what would mislead, and fit the book's column."""
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minilib import style, viz  # noqa: E402
from minilib.data import Tokenizer  # noqa: E402
from minilib.models import GPTConfig, MiniGPT  # noqa: E402

TOK = Tokenizer(["the", "cat", "sat"])


def test_attention_labels_are_the_tokens_the_model_saw():
    ids = torch.tensor(TOK.encode(["the", "cat", "sat"], add_special=True)[:-1])     # <START> the cat sat
    labels = viz.token_labels(TOK, ids)
    assert labels == ["<START>", "the", "cat", "sat"]
    m = MiniGPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=8, n_layer=2, n_head=2, n_embd=8))
    weights = [w[0] for w in m.attention_weights(ids[None])]
    fig = viz.plot_attention_grid(weights, labels)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == labels         # row 0 is <START>, nothing cropped
    assert ax.images[0].get_array().shape == (4, 4)
    with pytest.raises(ValueError, match="label every token the model saw"):
        viz.plot_attention(ax, weights[0][0], TOK.decode(ids))                # decode() drops <START>
    plt.close("all")


def run(scale, variant="dot", floor=4.0, dev=4.2, seed=0):
    return types.SimpleNamespace(scale=scale, variant=variant, seed=seed, losses=[5.0, 4.5, 4.3],
                                 entropy_floor=floor, dev_loss=dev)


def test_one_scale_per_axis_and_excess_over_the_floor():
    with pytest.raises(ValueError, match="plot each scale on its own axis"):
        viz.plot_losses([run("cpu")], references=[run("paper")])
    ax = viz.plot_losses([run("cpu")], excess=True)
    assert ax.lines[0].get_ydata()[-1] == pytest.approx((5.0 + 4.5 + 4.3) / 3 - 4.0)
    assert "cpu scale" in ax.get_title()
    ax = viz.plot_floor_distance([run("cpu", dev=3.9), run("paper", "zero", dev=4.1)])
    assert sorted(float(line.get_ydata()[0]) for line in ax.lines[:2]) == pytest.approx([-0.1, 0.1])
    plt.close("all")


def test_figures_fit_the_column_and_keep_text_large():
    assert plt.rcParams["figure.figsize"][0] <= style.COLUMN_INCHES
    smallest = min(plt.rcParams[k] for k in ("font.size", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"))
    assert smallest * 4 / 3 >= style.MIN_TEXT_PX                              # pt -> CSS px at natural size
