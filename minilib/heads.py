"""Looking at attention in any of the course's models: MiniGPT, MiniBERT and a Hugging Face RoBERTa, one interface.

``sentence_attention(model, tokenizer, words)`` returns what every view and measure needs, whatever
the model: each layer's weights ``[H, T, T]``, the token labels, the word each token belongs to, and
whether the model is causal. On top of it:

- ``fits``: whether a sentence fits the model's positions (the measures below need whole sentences);
- ``bertviz(model, tokenizer, words, view="head"|"model")``: bertviz's interactive views (rendered
  offline in the book; in Colab they need its JavaScript, so ``plot_heads`` draws the same weights
  with matplotlib, pooled into words so that every word is labelled);
- ``entropy_grid``: each head's mean entropy (nats) over sentences, ``[L, H]``, and the uniform entropy;
- ``agreement_heads``: for minimal pairs, the weight each head puts from the word that must agree
  (the target; for a causal model, the word before it, which predicts it) on the word it agrees with
  (the controller), ``[L, H]``, beside what a uniform head would give.
"""
from __future__ import annotations

import torch

from .metrics.attention_heads import dependency_weight, head_entropy, word_attention


def _kind(model) -> str:
    name = type(model).__name__
    if name == "MiniGPT":
        return "gpt"
    if name == "MiniBERT":
        return "bert"
    if hasattr(model, "config") and getattr(model.config, "model_type", None) is not None:
        return "hf"
    raise TypeError(f"cannot read attention out of a {name}: use MiniGPT, MiniBERT or a Hugging Face model")


@torch.no_grad()
def sentence_attention(model, tokenizer, words) -> dict:
    """``{"weights": [L x [H, T, T]], "tokens": [T labels], "word_ids": [T] (None for specials), "causal"}``."""
    words = list(words)
    kind = _kind(model)
    dev = next(model.parameters()).device
    if kind == "hf":
        from .hf.attention import attentions
        weights, tokens, word_ids = attentions(model, tokenizer, words)
        return {"weights": weights, "tokens": tokens, "word_ids": word_ids, "causal": False}
    if kind == "gpt":                                  # word-level: <START> w1 ... wn (the inputs it reads)
        ids = tokenizer.encode(words, add_special=True)[:-1]
        word_ids = [None] + list(range(len(words)))
    else:                                              # MiniBERT on sub-words: <START> pieces <STOP>
        ids, wid = tokenizer.encode(words)
        word_ids = [None if w < 0 else w for w in wid]
    was = model.training
    model.eval()
    weights = model.attention_weights(torch.tensor([ids], device=dev))
    model.train(was)
    tokens = [str(t) for t in tokenizer.decode(ids)] if kind == "bert" else tokenizer.decode(ids, skip_special=False)
    return {"weights": [w[0].float().cpu() for w in weights], "tokens": tokens, "word_ids": word_ids,
            "causal": kind == "gpt"}


def fits(model, tokenizer, words) -> bool:
    """Whether the model reads the whole sentence (its tokens, specials included, within its positions)."""
    kind = _kind(model)
    if kind == "hf":
        from .hf.scoring import longest
        from .hf.tokenizer import encode_words
        return len(encode_words(tokenizer, [list(words)])[0][0]) <= longest(model)
    n = len(words) + 1 if kind == "gpt" else len(tokenizer.encode(list(words))[0])
    return n <= model.config.block_size


MODEL_VIEW_PX = 720      # bertviz draws its model view 970 px wide; the book's column is about 750


def bertviz(model, tokenizer, words, view: str = "head"):
    """bertviz's ``head_view`` or ``model_view`` of one sentence, displayed (the model view fitted to the column)."""
    from bertviz import head_view
    from .choices import check_choice
    check_choice("view", view, ("head", "model"))
    a = sentence_attention(model, tokenizer, words)
    weights = tuple(w[None] for w in a["weights"])     # bertviz wants [1, H, T, T] per layer
    if view == "head":
        return head_view(weights, a["tokens"])
    _fitted_model_view(weights, a["tokens"])


def _fitted_model_view(weights, tokens):
    """``bertviz.model_view``, displayed as bertviz displays it (require.js, the view's div, its script) with two
    of its constants changed: the width (970 px) and the height of a token's row (84 px / heads, at most 14)."""
    from bertviz import model_view
    from IPython.display import HTML, Javascript, display
    page = model_view(weights, tokens, html_action="return").data
    head, script = page.split('<script type="text/javascript">', 1)
    js = script.rsplit("</script>", 1)[0]
    js = js.replace("const DIV_WIDTH = 970;", f"const DIV_WIDTH = {MODEL_VIEW_PX};")
    js = js.replace("7 * (12 / config.totalHeads)", "7 * (12 / Math.max(config.totalHeads, 6))")
    require, div = head.split("</script>", 1)
    display(HTML(require + "</script>"))
    display(HTML(div))
    display(Javascript(js))


def word_units(a, words) -> tuple[list, list]:
    """``(unit_ids, labels)``: each token's unit (its word; a special token such as ``<s>`` is a unit of its own)
    and one label per unit (the word, or the special token), for pooling ``sentence_attention``'s weights."""
    unit_ids, labels, last = [], [], object()
    for t, w in zip(a["tokens"], a["word_ids"]):
        key = ("word", w) if w is not None else ("special", len(unit_ids))
        if key != last:
            labels.append(words[w] if w is not None else t)
        unit_ids.append(len(labels) - 1)
        last = key
    return unit_ids, labels


def plot_heads(model, tokenizer, words, heads=(0, 1), title=""):
    """The weights bertviz shows, drawn with matplotlib (a row per layer, two heads per row), pooled into words so
    that every word can be labelled: a word's pieces are summed as keys and averaged as queries; ``<s>`` and
    ``</s>`` stay tokens of their own."""
    import matplotlib.pyplot as plt
    import numpy as np
    from . import style
    words = list(words)
    a = sentence_attention(model, tokenizer, words)
    unit_ids, labels = word_units(a, words)
    heads = [h for h in heads if h < a["weights"][0].shape[0]]
    n_layers = len(a["weights"])
    fig, axes = plt.subplots(n_layers, len(heads), figsize=(style.COLUMN_INCHES, 3.5 * n_layers),
                             squeeze=False, constrained_layout=True)
    font = 11 if len(labels) <= 16 else 9.5         # 9.5 pt is 12.7 px: the smallest text the book allows
    for l, w in enumerate(a["weights"]):
        pooled = word_attention(w, unit_ids)
        for c, h in enumerate(heads):
            ax = axes[l][c]
            im = ax.imshow(np.asarray(pooled[h], dtype=float), cmap="viridis", vmin=0, vmax=1)
            ticks = range(len(labels))
            ax.set_xticks(ticks, labels, rotation=90, fontsize=font)
            ax.set_yticks(ticks, labels if c == 0 else [], fontsize=font)
            ax.set_title(f"layer {l}, head {h}")
    fig.colorbar(im, ax=axes, shrink=0.6, label="weight")
    if title:
        fig.suptitle(title)
    return fig


def entropy_grid(model, tokenizer, sentences) -> dict:
    """``{"entropy": [L, H] mean over sentences, "uniform": mean log(T)}``: each head's entropy (nats) over the
    real queries (a causal model's query t sees t + 1 keys, so its uniform entropy is the mean of log(t + 1))."""
    grids, uniform = [], []
    for words in sentences:
        a = sentence_attention(model, tokenizer, words)
        grids.append(torch.stack([head_entropy(w) for w in a["weights"]]))
        T = a["weights"][0].shape[-1]
        n_keys = torch.arange(1, T + 1, dtype=torch.float) if a["causal"] else torch.full((T,), float(T))
        uniform.append(float(n_keys.log().mean()))
    return {"entropy": torch.stack(grids).mean(0), "uniform": sum(uniform) / len(uniform)}


def agreement_heads(model, tokenizer, pairs) -> dict:
    """``{"weight": [L, H], "uniform": float, "n": pairs}``: mean attention from the word that must agree to the word
    it agrees with, over the good sentences of ``pairs`` (for a causal model, from the word before the target,
    the position that predicts it), and the mean weight a uniform head would give there."""
    weights, uniform = [], []
    for p in pairs:
        a = sentence_attention(model, tokenizer, p.good)
        query = p.target - 1 if a["causal"] else p.target
        per_layer = [dependency_weight(w, a["word_ids"], query, p.controller, causal=a["causal"])
                     for w in a["weights"]]
        weights.append(torch.stack([d["weight"] for d in per_layer]))
        uniform.append(per_layer[0]["uniform"])
    return {"weight": torch.stack(weights).mean(0), "uniform": sum(uniform) / len(uniform), "n": len(pairs)}


def word_map(model, tokenizer, words, layer: int, head: int) -> torch.Tensor:
    """One head's weights between words ``[W, W]`` (pieces pooled; see ``metrics.attention_heads.word_attention``)."""
    a = sentence_attention(model, tokenizer, words)
    return word_attention(a["weights"][layer], a["word_ids"])[head]
