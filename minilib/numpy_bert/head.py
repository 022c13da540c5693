"""BERT's masked-language-model head: ``dense -> GELU -> LN``, then a decoder tied to the token embedding.

``logits = LN(gelu(dense(h))) E^T + b`` with ``E`` the token-embedding table ``[V, C]`` (the
same array the input lookup uses) and a bias ``b [V]``. The decoder's gradient with respect
to ``E`` is added to the lookup's gradient: one table, two uses.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .layernorm import LayerNormCache, layer_norm, layer_norm_backward
from .linear import gelu, gelu_backward, linear, linear_backward


class HeadCache(NamedTuple):
    x: np.ndarray       # the last hidden state [B, T, C]
    h: np.ndarray       # dense(x)
    ln: LayerNormCache
    z: np.ndarray       # LN(gelu(h)), the decoder's input


def mlm_head(p, x, eps=1e-12):
    """``p``: ``head.dense.*``, ``head.ln.*``, ``head.decoder.bias``, ``tok_emb.weight``. Returns (logits, cache)."""
    h = linear(x, p["head.dense.weight"], p["head.dense.bias"])
    z, ln = layer_norm(gelu(h), p["head.ln.weight"], p["head.ln.bias"], eps)
    logits = linear(z, p["tok_emb.weight"], p["head.decoder.bias"])           # [B, T, V]
    return logits, HeadCache(x, h, ln, z)


def mlm_head_backward(dlogits, cache: HeadCache, p):
    """``(dx, grads)``; ``grads["tok_emb.weight"]`` is the decoder's share of the tied table's gradient."""
    dz, dE, db = linear_backward(dlogits, cache.z, p["tok_emb.weight"])
    dg, dgamma, dbeta = layer_norm_backward(dz, cache.ln, p["head.ln.weight"])
    dh = gelu_backward(dg, cache.h)
    dx, dW, dbd = linear_backward(dh, cache.x, p["head.dense.weight"])
    return dx, {"tok_emb.weight": dE, "head.decoder.bias": db, "head.ln.weight": dgamma, "head.ln.bias": dbeta,
                "head.dense.weight": dW, "head.dense.bias": dbd}
