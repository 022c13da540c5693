"""Attention: masks, score functions, ``attention()`` for tensors and ``MultiHeadAttention`` for models.

- ``masks``         causal and padding masks, ``masked_softmax`` with ``-inf`` or ``zero`` masking
- ``scores``        the score functions as readable formulas (dot, additive, cosine, negated distances:
                    euclidean, manhattan, minkowski, chebyshev)
- ``normalisers``   scores -> weights: softmax, relu / L**alpha, sigmoid(s - log L); L = keys a query may see
- ``vector_norms``  QK-norm (with a learned gain) and V-norm: ``l2`` or ``layer``
- ``learned``       the family's learned scalars per head: cosine scale, Minkowski p, ReLU exponent
- ``additive_fast`` how the additive score is computed fast (chunks, recomputation, torch.compile)
- ``additive_triton`` additive attention as one fused GPU kernel (Triton): online softmax, backward
                    by recomputation; tested on CPU through Triton's interpreter
- ``functional``    ``attention(q, k, v, ...)``: the readable path beside PyTorch's fused kernel
- ``multihead``     ``MultiHeadAttention``: ``project`` (x -> q, k, v), heads, output projection
- ``options``       ``AttentionOptions``: the attention choices every model config inherits
- ``positions``     where a token is: sinusoidal tables and rotary embeddings (RoPE)
- ``kv_cache``      ``KVCache``: the keys and values of the past, for one-token-at-a-time generation
"""
from .functional import attention
from .masks import MASKINGS, causal_mask, check_mask, check_masking, combine, key_padding_mask, masked_softmax
from .kv_cache import KVCache, LayerCache
from .options import AttentionOptions
from .positions import POSITIONS, apply_rope, check_position, sinusoidal_table
from .multihead import PROJECTIONS, QKV_MODES, AdditiveScore, MultiHeadAttention, check_qkv
from .normalisers import NORMALISERS, check_normaliser, keys_seen, normalise
from .scores import (SCORES, additive_scores, additive_scores_reference, check_score, cosine_scores, dot_scores,
                     euclidean_scores, manhattan_scores, minkowski_scores)
from .vector_norms import VECTOR_NORMS, QKVNorm

__all__ = ["attention", "MultiHeadAttention", "AttentionOptions", "KVCache", "LayerCache", "POSITIONS",
           "apply_rope", "check_position", "sinusoidal_table", "AdditiveScore", "QKV_MODES", "PROJECTIONS", "check_qkv",
           "MASKINGS", "causal_mask", "check_mask", "check_masking", "combine", "key_padding_mask", "masked_softmax",
           "SCORES", "additive_scores", "additive_scores_reference", "check_score", "cosine_scores", "dot_scores",
           "euclidean_scores", "manhattan_scores", "minkowski_scores", "NORMALISERS", "check_normaliser", "keys_seen",
           "normalise", "VECTOR_NORMS", "QKVNorm"]
