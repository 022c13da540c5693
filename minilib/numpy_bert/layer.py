"""One encoder layer in BERT's post-LN layout, as MiniBERT's ``BertLayer``::

    h = LN1(x + attn(x))          # the residual is added *before* the norm
    y = LN2(h + ffn(h))

Backward, from ``dy``: through LN2, then the residual splits the gradient in two (straight
to ``h``, and through the feed-forward block); the same again through LN1 and attention.
"""
from __future__ import annotations

from typing import NamedTuple

from .attention import AttentionCache, self_attention, self_attention_backward
from .feedforward import FeedForwardCache, feed_forward, feed_forward_backward
from .layernorm import LayerNormCache, layer_norm, layer_norm_backward


class LayerCache(NamedTuple):
    attn: AttentionCache
    ln1: LayerNormCache
    ffn: FeedForwardCache
    ln2: LayerNormCache


def _sub(p, prefix):
    """The entries of ``p`` under ``prefix.``, with the prefix removed."""
    return {k[len(prefix) + 1:]: v for k, v in p.items() if k.startswith(prefix + ".")}


def encoder_layer(p, x, n_head, pad_mask=None, eps=1e-12):
    """``p`` keyed as one of MiniBERT's ``blocks.i`` (``attn.in_proj.weight``, ``ln1.weight``, ``fc.weight``, ...)."""
    a, ca = self_attention(_sub(p, "attn"), x, n_head, pad_mask)
    h, c1 = layer_norm(x + a, p["ln1.weight"], p["ln1.bias"], eps)
    f, cf = feed_forward(p, h)
    y, c2 = layer_norm(h + f, p["ln2.weight"], p["ln2.bias"], eps)
    return y, LayerCache(ca, c1, cf, c2)


def encoder_layer_backward(dy, cache: LayerCache, p):
    """``(dx, grads)`` with grads keyed as ``p``."""
    dr2, dg2, db2 = layer_norm_backward(dy, cache.ln2, p["ln2.weight"])
    dh, gf = feed_forward_backward(dr2, cache.ffn, p)
    dh = dh + dr2                                                  # the residual path
    dr1, dg1, db1 = layer_norm_backward(dh, cache.ln1, p["ln1.weight"])
    dx, ga = self_attention_backward(dr1, cache.attn, _sub(p, "attn"))
    grads = {f"attn.{k}": v for k, v in ga.items()} | gf
    grads |= {"ln1.weight": dg1, "ln1.bias": db1, "ln2.weight": dg2, "ln2.bias": db2}
    return dx + dr1, grads
