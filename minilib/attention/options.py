"""The attention choices a model's config carries, in one place.

``GPTConfig`` and ``BERTConfig`` both inherit ``AttentionOptions``, so a choice added here
(a score, a normaliser, a sharing mode) is available to every model, validated once, and
handed to ``MultiHeadAttention`` by ``attention_kwargs()``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .masks import check_masking
from .multihead import check_qkv
from .normalisers import check_normaliser
from .positions import check_position
from .scores import check_score
from .vector_norms import check_vector_norm


@dataclass
class AttentionOptions:
    score: str = "dot"              # "dot" | "additive" | "cosine" | "euclidean" | "manhattan" | "minkowski"
                                    # | "chebyshev" (scores.py)
    qkv: str = "separate"           # "separate" | "shared_qk" (Q = K) | "shared_qkv" (Q = K = V)
    masking: str = "-inf"           # "-inf" | "zero" (leaks; for teaching)
    d_additive: int | None = None   # width of the additive score's tanh layer (default: d_head)
    fast: bool = True               # fused attention kernel where it computes the same (False: the readable path)
    normaliser: str = "softmax"     # "softmax" | "relu" | "relu_L" | "relu_sqrtL" | "relu_Lalpha" | "sigmoid"
    tau: float = 1.0                # cosine: scores tau * cos(q, k), in [-tau, tau] (the start value if learned)
    learn_tau: bool = False         # cosine: tau learned per head, capped at 100 (temperature >= 0.01)
    qk_norm: str | None = None      # None | "l2" | "layer": normalise q and k per head (+ a learned gain)
    v_norm: str | None = None       # None | "l2" | "layer": normalise v per head
    position: str = "learned"       # "learned" | "sinusoidal" | "rope" | "none" (``positions``)

    def __post_init__(self):
        check_score(self.score)
        check_masking(self.masking)
        check_qkv(self.qkv)
        check_normaliser(self.normaliser)
        check_vector_norm("qk_norm", self.qk_norm)
        check_vector_norm("v_norm", self.v_norm)
        check_position(self.position)
        if self.masking != "-inf" and self.normaliser != "softmax":
            raise ValueError(f"masking={self.masking!r} is a softmax pitfall; with normaliser={self.normaliser!r} "
                             "use masking='-inf'")
        if self.score != "cosine" and (self.learn_tau or self.tau != 1.0):
            raise ValueError(f"tau and learn_tau set the cosine score's scale; score={self.score!r} has none "
                             "(use score='cosine', or leave tau=1.0 and learn_tau=False)")

    def to_dict(self) -> dict:
        """Every field of the config (this class's and the model's), as JSON-ready values."""
        return dataclasses.asdict(self)

    def attention_kwargs(self) -> dict:
        """The keyword arguments ``MultiHeadAttention`` takes from these options."""
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(AttentionOptions)}
        return kw | {"rope": kw.pop("position") == "rope"}
