"""Measuring models.

- ``lm``   language modelling: loss and perplexity, per-sentence loss, the causality (leak) probe, prefix loss
"""
from .lm import evaluate, leak_probe, perplexity, prefix_loss, sequence_loss

__all__ = ["evaluate", "leak_probe", "perplexity", "prefix_loss", "sequence_loss"]
