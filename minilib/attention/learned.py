"""The score family's learned scalars, one per head, each kept in its valid range.

- cosine scale ``tau`` (scores ``tau * cos(q, k)``): stored as ``log tau`` and capped at ``TAU_MAX = 100``,
  i.e. the temperature ``1/tau`` stays above 0.01, as in Swin Transformer V2 (Liu et al., 2022);
- Minkowski exponent ``p = 1 + softplus(raw)``: always >= 1, where the Minkowski distance is a distance;
  starts at 2 (the Euclidean distance);
- ReLU exponent ``alpha`` of ``relu(s) / L**alpha``: unconstrained, starts at 1/2 (``normalisers.ALPHA_INIT``).

``MultiHeadAttention`` owns one ``LearnedScalars``; ``score_params()`` and ``normaliser_params()`` are the
keyword arguments ``attention()`` hands to the score function and the normaliser. The parameters are
stored as vectors [H] (the training loop decays matrices only: a decayed scale would shrink towards 0)
and handed over as [H, 1, 1], which broadcasts against scores [B, H, T, S].
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .normalisers import ALPHA_INIT, RELU_ALPHA

TAU_MAX = 100.0
P_INIT = 2.0


class LearnedScalars(nn.Module):
    """Per-head learned scalars for ``score`` / ``normaliser`` (an empty module if none are learned)."""

    def __init__(self, n_heads, *, score="dot", normaliser="softmax", tau=1.0, learn_tau=False):
        super().__init__()
        shape = (n_heads,)            # vectors, so the optimiser does not decay them; used as [H, 1, 1]
        self.tau = float(tau)
        if not 0 < self.tau <= TAU_MAX:
            raise ValueError(f"tau (the cosine scale) must be in (0, {TAU_MAX:g}], got {tau}")
        self.log_tau = nn.Parameter(torch.full(shape, math.log(self.tau))) if score == "cosine" and learn_tau else None
        p_raw = math.log(math.expm1(P_INIT - 1.0))                    # softplus^-1(P_INIT - 1)
        self.p_raw = nn.Parameter(torch.full(shape, p_raw)) if score == "minkowski" else None
        learn_alpha = normaliser in RELU_ALPHA and RELU_ALPHA[normaliser] is None
        self.alpha = nn.Parameter(torch.full(shape, ALPHA_INIT)) if learn_alpha else None
        self.score = score

    def tau_value(self):
        """The cosine scale: learned (capped at TAU_MAX) or the fixed ``tau``."""
        if self.log_tau is None:
            return self.tau
        return torch.exp(self.log_tau.clamp(max=math.log(TAU_MAX))).view(-1, 1, 1)     # [H, 1, 1]

    def p_value(self):
        return 1.0 + F.softplus(self.p_raw).view(-1, 1, 1)                            # [H, 1, 1]

    def score_params(self) -> dict:
        if self.score == "cosine":
            return {"scale": self.tau_value()}
        if self.p_raw is not None:
            return {"p": self.p_value()}
        return {}

    def normaliser_params(self) -> dict:
        return {"alpha": self.alpha.view(-1, 1, 1)} if self.alpha is not None else {}
