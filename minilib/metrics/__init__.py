"""Measuring models.

- ``lm``   language modelling: the token loss every model returns, loss and perplexity, per-sentence loss, the causality (leak) probe, prefix loss
- ``attention_stats``  inside attention: largest logit, entropy, output norm, weight sum (per layer)
- ``segmentation``  boundary precision/recall/F1, Pk and WindowDiff (nltk's conventions)
- ``calibration``  ECE (torchmetrics' binary definition), NLL, Brier, reliability bins, temperature and Platt scaling
- ``attention_heads``  reading heads of any model: pieces pooled into words, entropy per head, weight along a dependency
- ``stats``  spread over seeds and the difference of two means with its standard error (``mean_sd``, ``welch``)
- ``explanation``  is attention an explanation? Kendall's tau, top-k hits on known evidence, TVD, paired verdicts
"""
from .attention_heads import dependency_weight, head_entropy, word_attention, word_sum
from .attention_stats import STATS, attention_stats, layer_stats
from .calibration import brier, ece, fit_platt, fit_temperature, nll, reliability_bins
from .explanation import chance_hit, kendall_tau, mean_se, paired_verdict, top_k_hit, tvd
from .lm import evaluate, leak_probe, perplexity, prefix_loss, sequence_loss, token_loss
from .stats import mean_sd, welch
from .segmentation import boundary_prf, pk, segmentation_scores, windowdiff

__all__ = ["evaluate", "token_loss", "leak_probe", "perplexity", "prefix_loss", "sequence_loss", "STATS", "attention_stats",
           "layer_stats", "brier", "ece", "fit_platt", "fit_temperature", "nll", "reliability_bins", "boundary_prf",
           "pk", "segmentation_scores", "windowdiff", "dependency_weight", "head_entropy", "word_attention", "word_sum",
           "mean_sd", "welch", "chance_hit", "kendall_tau", "mean_se", "paired_verdict", "top_k_hit", "tvd"]
