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
from .scores import check_score


@dataclass
class AttentionOptions:
    score: str = "dot"              # "dot" | "additive" | "cosine"
    qkv: str = "separate"           # "separate" | "shared_qk" (Q = K) | "shared_qkv" (Q = K = V)
    masking: str = "-inf"           # "-inf" | "zero" (leaks; for teaching)
    d_additive: int | None = None   # width of the additive score's tanh layer (default: d_head)
    fast: bool = True               # fused attention kernel where it computes the same (False: the readable path)

    def __post_init__(self):
        check_score(self.score)
        check_masking(self.masking)
        check_qkv(self.qkv)

    def attention_kwargs(self) -> dict:
        """The keyword arguments ``MultiHeadAttention`` takes from these options."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(AttentionOptions)}
