"""Which words a fine-tuned classifier's answer depends on, measured three ways, word by word.

For one sentence (a list of words) and the class the model predicts:

- ``attention``  each layer's weights from ``<s>`` (the position the classification head reads) to the
                 pieces of each word, summed over the pieces and averaged over the heads: ``[L, n_words]``;
- ``gradient``   gradient x input: |(d log p(predicted class) / d e_t) . e_t| for the input embedding
                 ``e_t`` of every piece, summed over each word's pieces (Jain & Wallace, 2019, use the
                 gradient with respect to the input);
- ``loo``        leave one out: the total variation distance between the model's output with the
                 sentence and with that word (all its pieces) deleted.

``interventions`` measures what happens to the predictions when a layer's attention is replaced by
a uniform or a permuted one (``attention.edited_attention``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..metrics.attention_heads import word_sum
from ..metrics.explanation import tvd
from .attention import attentions, edited_attention
from .scoring import class_probs
from .tokenizer import encode_words


def explain(model, tokenizer, words) -> dict:
    """``prob`` (p of each class), ``pred``, and the word-level ``attention`` [L, n], ``gradient`` [n] and
    ``loo`` [n] importances of one sentence. The model must run eager attention (``models.eager``)."""
    words = list(words)
    n = len(words)
    weights, _, word_ids = attentions(model, tokenizer, words)
    attention = word_sum(torch.stack([w[:, 0, :].mean(0) for w in weights]), word_ids, n)      # [L, n]
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    ids = torch.tensor(encode_words(tokenizer, [words])[0], device=dev)
    emb = model.get_input_embeddings()(ids).detach().requires_grad_(True)
    logp = F.log_softmax(model(inputs_embeds=emb).logits[0].float(), -1)
    pred = int(logp.argmax())
    (grad,) = torch.autograd.grad(logp[pred], emb)
    gradient = word_sum((grad * emb).sum(-1)[0].abs().detach().cpu(), word_ids, n)
    model.train(was)
    full = logp.detach().exp().cpu()
    without = class_probs(model, tokenizer, [words[:i] + words[i + 1:] for i in range(n)])
    loo = torch.tensor([tvd(full, q) for q in without])
    return {"prob": full, "pred": pred, "attention": attention, "gradient": gradient, "loo": loo}


def interventions(model, tokenizer, sentences, labels, *, how=("uniform", "permuted"), seed=0) -> dict:
    """For every layer and edit: per sentence, the TVD between the edited and the original output, and whether
    the edited model is still right. Returns ``{"original": {...}, (layer, how): {"tvd": [...], "correct": [...]}}``."""
    y = torch.as_tensor(labels)
    base = class_probs(model, tokenizer, sentences)
    out = {"original": {"correct": (base.argmax(-1) == y).float().tolist()}}
    for layer in range(model.config.num_hidden_layers):
        for h in how:
            with edited_attention(model, layer, h, seed=seed):
                p = class_probs(model, tokenizer, sentences)
            out[(layer, h)] = {"tvd": (0.5 * (p - base).abs().sum(-1)).tolist(),
                               "correct": (p.argmax(-1) == y).float().tolist()}
    return out
