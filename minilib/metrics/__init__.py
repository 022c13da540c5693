"""Measuring models.

- ``lm``   language modelling: loss and perplexity, per-sentence loss, the causality (leak) probe, prefix loss
- ``attention_stats``  inside attention: largest logit, entropy, output norm, weight sum (per layer)
"""
from .attention_stats import STATS, attention_stats, layer_stats
from .lm import evaluate, leak_probe, perplexity, prefix_loss, sequence_loss

__all__ = ["evaluate", "leak_probe", "perplexity", "prefix_loss", "sequence_loss", "STATS", "attention_stats",
           "layer_stats"]
