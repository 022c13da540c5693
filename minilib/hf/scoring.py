"""Reading a trained Hugging Face model out: class probabilities, MLM loss, pseudo-log-likelihoods.

A masked LM gives no probability of a whole sentence, but it can score one the way Salazar et al.
(2020) do: hide each token in turn and add up the log-probabilities of the hidden tokens, the
*pseudo-log-likelihood* (PLL), with Kauf & Ivanova's (2023) fix for words of several pieces.
BLiMP-style evaluation (Warstadt et al., 2020) asks whether the model prefers the good sentence of
each minimal pair: PLL(good) > PLL(bad).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .batches import classification_batches
from .tokenizer import encode_words


def _device(model):
    return next(model.parameters()).device


def longest(model) -> int:
    """The longest input (in tokens, specials included) a RoBERTa-style model reads: positions start after padding."""
    c = model.config
    return c.max_position_embeddings - (c.pad_token_id + 1 if c.model_type in ("roberta", "xlm-roberta") else 0)


@torch.no_grad()
def class_probs(model, tokenizer, sentences, *, batch_size=64, max_len=None) -> torch.Tensor:
    """p(class | sentence) [N, n_classes], in the order of ``sentences`` (cut at ``max_len`` tokens, default: the
    longest input the model reads)."""
    max_len = max_len or longest(model)
    was = model.training
    model.eval()
    out = torch.empty(len(sentences), model.config.num_labels)
    batches, order = classification_batches(tokenizer, sentences, [0] * len(sentences), batch_size=batch_size,
                                            max_len=max_len, shuffle=False)
    dev = _device(model)
    for (idx, _, mask), k in zip(batches, order):
        logits = model(input_ids=idx.to(dev), attention_mask=mask.long().to(dev)).logits
        out[k] = F.softmax(logits.float(), -1).cpu()
    model.train(was)
    return out


@torch.no_grad()
def mlm_loss(model, batches) -> float:
    """Mean cross-entropy (nats) of a masked LM over the masked targets of ``batches``."""
    was = model.training
    model.eval()
    dev, total, n = _device(model), 0.0, 0
    for idx, targets, mask in batches:
        logits = model(input_ids=idx.to(dev), attention_mask=mask.long().to(dev)).logits
        t = targets.to(dev)
        total += float(F.cross_entropy(logits.flatten(0, 1).float(), t.flatten(), ignore_index=-100,
                                       reduction="sum"))
        n += int((t != -100).sum())
    model.train(was)
    return total / max(n, 1)


@torch.no_grad()
def pseudo_log_likelihood(model, tokenizer, sentences, *, max_len=None, rows_per_pass=512) -> torch.Tensor:
    """PLL of each sentence (nats): the sum over its tokens of log p(token | the others), each token hidden by
    ``<mask>`` in turn (``<s>``/``</s>`` are not scored). As in Kauf & Ivanova's (2023) PLL-word-l2r, the
    pieces of the same word to the right of the hidden one are hidden too, so a word split into several
    pieces is not scored as if its other pieces gave it away."""
    max_len = max_len or longest(model)
    was = model.training
    model.eval()
    dev, mask_id = _device(model), tokenizer.mask_token_id
    out = torch.zeros(len(sentences))
    rows_per_batch = max(1, rows_per_pass // max_len)
    for start in range(0, len(sentences), rows_per_batch):
        chunk = sentences[start:start + rows_per_batch]
        ids, word_ids = encode_words(tokenizer, chunk, max_len)
        inputs, targets, owner, at = [], [], [], []
        for r, (row, wid) in enumerate(zip(ids, word_ids)):
            for t in range(1, len(row) - 1):
                x = list(row)
                for u in range(t, len(row) - 1):            # this piece and the rest of its word
                    if u > t and wid[u] != wid[t]:
                        break
                    x[u] = mask_id
                inputs.append(x)
                targets.append(row[t])
                owner.append(r)
                at.append(t)
        width = max(map(len, inputs))
        pad = tokenizer.pad_token_id
        x = torch.tensor([r + [pad] * (width - len(r)) for r in inputs], device=dev)
        attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in inputs], device=dev)
        logp = F.log_softmax(model(input_ids=x, attention_mask=attention).logits.float(), -1)
        n = torch.arange(len(inputs), device=dev)
        lp = logp[n, torch.tensor(at, device=dev), torch.tensor(targets, device=dev)].cpu()
        out[start:start + len(chunk)] = torch.zeros(len(chunk)).index_add_(0, torch.tensor(owner), lp)
    model.train(was)
    return out


def unigram_loss(tokenizer, sentences, batches) -> float:
    """The MLM loss of a model that ignores the context: -log of each target's training frequency (add-one
    smoothed), averaged over the masked targets of ``batches``. A masked LM must beat it to have learned anything."""
    ids, _ = encode_words(tokenizer, sentences)
    counts = torch.ones(len(tokenizer))
    counts.index_add_(0, torch.tensor([t for row in ids for t in row]), torch.ones(sum(map(len, ids))))
    logp = (counts / counts.sum()).log()
    targets = torch.cat([b[1][b[1] != -100] for b in batches])
    return float(-logp[targets].mean())
