"""Small RoBERTa models from ``transformers`` for the synthetic language, and the adapter that trains them.

``roberta_config`` sizes a ``RobertaConfig`` for a tokenizer (its vocabulary and special ids; RoBERTa
counts positions from ``pad_token_id + 1``, so a ``max_len``-token input needs ``max_len + 2`` position
embeddings). ``masked_lm`` and ``classifier`` build the two heads on the same encoder; a classifier
built from a masked LM starts from its encoder's weights (``classifier.roberta`` and
``masked_lm.roberta`` are the same ``RobertaModel`` without a pooler), only its classification head is
new. ``attn_implementation="eager"`` is what makes a ``transformers`` 5 model return its attention
weights (``output_attentions=True``); training uses the faster default (SDPA).

``ForTrain`` makes a Hugging Face model look like the course's models to ``minilib.train.train``:
``forward(idx, targets, pad_mask) -> (logits, loss)``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..device import seed_everything


def roberta_config(tokenizer, *, max_len=64, hidden=64, layers=2, heads=4, dropout=0.1, num_labels=2, **kw):
    """A ``RobertaConfig`` of the given size for ``tokenizer`` (feed-forward width 4 x hidden)."""
    from transformers import RobertaConfig
    if hidden % heads:
        raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
    return RobertaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=heads, intermediate_size=4 * hidden,
                         max_position_embeddings=max_len + tokenizer.pad_token_id + 1, type_vocab_size=1,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, hidden_dropout_prob=dropout,
                         attention_probs_dropout_prob=dropout, num_labels=num_labels, **kw)


def masked_lm(config, seed=0):
    """A freshly initialised ``RobertaForMaskedLM`` (initialisation seeded)."""
    from transformers import RobertaForMaskedLM
    seed_everything(seed)
    return RobertaForMaskedLM(config)


def classifier(config, seed=0, encoder_from=None):
    """A ``RobertaForSequenceClassification``; ``encoder_from`` (a masked LM) gives its encoder's weights."""
    from transformers import RobertaForSequenceClassification
    seed_everything(seed)
    model = RobertaForSequenceClassification(config)
    if encoder_from is not None:
        model.roberta.load_state_dict(encoder_from.roberta.state_dict())
    return model


def eager(model):
    """``model`` switched to the attention code that can return its weights (and accept an edit: ``attention``)."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:                                                # transformers before set_attn_implementation existed
        model.config._attn_implementation = "eager"
    return model


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


class ForTrain(nn.Module):
    """``forward(idx, targets, pad_mask) -> (logits, loss)`` around a Hugging Face model, for ``train()``."""

    def __init__(self, hf_model):
        super().__init__()
        self.hf = hf_model

    def forward(self, idx, targets=None, pad_mask=None):
        mask = torch.ones_like(idx) if pad_mask is None else pad_mask.long()
        out = self.hf(input_ids=idx, attention_mask=mask, labels=targets)
        return out.logits, out.loss
