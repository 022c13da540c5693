"""``NumpyBERT``: MiniBERT's forward and a hand-written backward, in NumPy, float32 or float64.

The parameters are a dict keyed exactly as MiniBERT's ``named_parameters()`` (``tok_emb.weight``,
``blocks.0.attn.in_proj.weight``, ..., ``head.decoder.bias``; the decoder's weight *is*
``tok_emb.weight``), so weights copy both ways (``from_torch``, ``load_into``) and a gradient
can be compared name by name with ``torch.autograd``'s. No dropout: it computes what MiniBERT
computes in ``eval()`` mode (or with ``dropout=0``).

    nb = NumpyBERT.from_torch(minibert)              # float64 by default
    out = nb.forward(ids, targets, pad_mask)         # logits, loss and the cache of every layer
    grads = nb.backward(out)                         # {name: dL/dparam}

``pad_in="embeddings"`` reproduces seed 001's bug: padding positions get zero embeddings
and attention gets no mask at all, so real tokens still attend to padding.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..choices import check_choice
from .embeddings import EmbeddingCache, embed, embed_backward
from .head import HeadCache, mlm_head, mlm_head_backward
from .layer import _sub, encoder_layer, encoder_layer_backward
from .loss import LossCache, cross_entropy, cross_entropy_backward

PAD_IN = ("scores", "embeddings")
DTYPES = (np.float32, np.float64)


class Forward(NamedTuple):
    logits: np.ndarray                  # [B, T, V]
    loss: float | None
    emb: EmbeddingCache
    layers: list                        # a layer.LayerCache per layer
    head: HeadCache
    loss_cache: LossCache | None
    pad_mask: np.ndarray | None         # what the padding did (the bug multiplies by it)
    pad_in: str

    @property
    def attention_weights(self):
        """Each layer's attention weights ``[B, H, T, T]``."""
        return [c.attn.weights for c in self.layers]


class NumpyBERT:
    """MiniBERT in NumPy. ``config``: a ``minilib.models.BERTConfig`` (dot scores, separate Q/K/V, tied head)."""

    def __init__(self, config, params: dict, dtype=np.float64):
        if np.dtype(dtype) not in [np.dtype(d) for d in DTYPES]:
            raise ValueError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
        if config.score != "dot" or config.qkv != "separate" or not config.tie_weights:
            raise ValueError("NumpyBERT implements BERT itself: score='dot', qkv='separate', tie_weights=True; got "
                             f"score={config.score!r}, qkv={config.qkv!r}, tie_weights={config.tie_weights}")
        self.config, self.dtype = config, np.dtype(dtype)
        missing = set(self.param_names(config)) - set(params)
        if missing:
            raise ValueError(f"missing parameters: {sorted(missing)}")
        self.params = {k: np.ascontiguousarray(params[k], dtype=self.dtype) for k in self.param_names(config)}

    @staticmethod
    def param_names(config) -> list:
        """Every parameter's name, in MiniBERT's ``named_parameters()`` order."""
        names = ["tok_emb.weight", "pos_emb.weight"] + (["seg_emb.weight"] if config.n_segments else [])
        names += ["ln_emb.weight", "ln_emb.bias"]
        for i in range(config.n_layer):
            names += [f"blocks.{i}.{m}.{w}" for m in ("attn.in_proj", "attn.out_proj", "ln1", "fc", "proj", "ln2")
                      for w in ("weight", "bias")]
        return names + [f"head.{m}.{w}" for m in ("dense", "ln") for w in ("weight", "bias")] + ["head.decoder.bias"]

    # ------------------------------------------------------------------ building and copying
    @classmethod
    def init(cls, config, seed=0, dtype=np.float64, std=0.02):
        """BERT's initialisation: normal(0, std) matrices and tables, zero biases, layer norms at (1, 0)."""
        rng = np.random.default_rng(seed)
        C, V = config.n_embd, config.vocab_size
        shapes = {"tok_emb.weight": (V, C), "pos_emb.weight": (config.block_size, C),
                  "seg_emb.weight": (config.n_segments, C), "head.decoder.bias": (V,)}
        for i in range(config.n_layer):
            b = f"blocks.{i}."
            shapes |= {b + "attn.in_proj.weight": (3 * C, C), b + "attn.in_proj.bias": (3 * C,),
                       b + "attn.out_proj.weight": (C, C), b + "attn.out_proj.bias": (C,),
                       b + "fc.weight": (4 * C, C), b + "fc.bias": (4 * C,), b + "proj.weight": (C, 4 * C),
                       b + "proj.bias": (C,)}
        shapes |= {"head.dense.weight": (C, C), "head.dense.bias": (C,)}
        params = {}
        for name in cls.param_names(config):
            if ".ln" in name or name.startswith("ln_"):
                params[name] = np.ones(C) if name.endswith("weight") else np.zeros(C)
            elif name.endswith("bias"):
                params[name] = np.zeros(shapes[name])
            else:
                params[name] = rng.normal(0.0, std, shapes[name])
        return cls(config, params, dtype)

    @classmethod
    def from_torch(cls, model, dtype=np.float64):
        """A copy of a MiniBERT's weights."""
        params = {k: v.detach().cpu().double().numpy().copy() for k, v in model.named_parameters()}
        return cls(model.config, params, dtype)

    def load_into(self, model):
        """Copy these weights into a MiniBERT (in its own dtype); returns the model."""
        import torch
        named = dict(model.named_parameters())
        with torch.no_grad():
            for k, v in self.params.items():
                named[k].copy_(torch.from_numpy(v))
        return model

    def astype(self, dtype) -> "NumpyBERT":
        return NumpyBERT(self.config, self.params, dtype)

    # ------------------------------------------------------------------ forward and backward
    def _check(self, ids, targets, pad_mask):
        c = self.config
        if ids.ndim != 2:
            raise ValueError(f"ids must be [B, T] token ids, got shape {ids.shape}")
        if ids.shape[1] > c.block_size:
            raise ValueError(f"sequence length {ids.shape[1]} exceeds block_size {c.block_size}")
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ValueError(f"token ids must lie in [0, {c.vocab_size}), got {ids.min()}..{ids.max()}")
        for name, t in (("targets", targets), ("pad_mask", pad_mask)):
            if t is not None and t.shape != ids.shape:
                raise ValueError(f"{name} must have the shape of ids {ids.shape}, got {t.shape}")
        if pad_mask is not None and pad_mask.dtype != bool:
            raise ValueError("pad_mask must be a bool array (True = real token)")

    def forward(self, ids, targets=None, pad_mask=None, segments=None, *, pad_in="scores") -> Forward:
        """``ids [B, T]`` -> ``Forward`` (logits, the mean cross-entropy over targets != -100, the caches).

        ``pad_in="scores"`` masks padding keys before the softmax (correct); ``"embeddings"`` is seed
        001's bug (zeroes the padding's embeddings, no attention mask).
        """
        check_choice("pad_in", pad_in, PAD_IN)
        ids = np.asarray(ids)
        targets = None if targets is None else np.asarray(targets)
        pad_mask = None if pad_mask is None else np.asarray(pad_mask)
        self._check(ids, targets, pad_mask)
        c, p = self.config, self.params
        x, emb = embed(p, ids, segments, c.layer_norm_eps)
        attn_mask = pad_mask
        if pad_in == "embeddings" and pad_mask is not None:
            x, attn_mask = x * pad_mask[..., None], None                  # the bug
        layers = []
        for i in range(c.n_layer):
            x, cache = encoder_layer(_sub(p, f"blocks.{i}"), x, c.n_head, attn_mask, c.layer_norm_eps)
            layers.append(cache)
        logits, head = mlm_head(p, x, c.layer_norm_eps)
        loss, lc = cross_entropy(logits, targets) if targets is not None else (None, None)
        return Forward(logits, loss, emb, layers, head, lc, pad_mask, pad_in)

    def backward(self, fwd: Forward) -> dict:
        """``{name: dL/dparam}`` for the mean cross-entropy of ``fwd`` (which must have had targets)."""
        if fwd.loss_cache is None:
            raise ValueError("backward needs a loss: call forward with targets")
        grads = {}
        dx, g = mlm_head_backward(cross_entropy_backward(fwd.loss_cache), fwd.head, self.params)
        grads |= g
        for i in reversed(range(self.config.n_layer)):
            dx, g = encoder_layer_backward(dx, fwd.layers[i], _sub(self.params, f"blocks.{i}"))
            grads |= {f"blocks.{i}.{k}": v for k, v in g.items()}
        if fwd.pad_in == "embeddings" and fwd.pad_mask is not None:
            dx = dx * fwd.pad_mask[..., None]
        g = embed_backward(dx, fwd.emb, self.params)
        g["tok_emb.weight"] = g["tok_emb.weight"] + grads.pop("tok_emb.weight")     # tied: both uses add up
        grads |= g
        return {k: grads[k].astype(self.dtype) for k in self.params}

    def loss_and_grads(self, ids, targets, pad_mask=None, segments=None):
        fwd = self.forward(ids, targets, pad_mask, segments)
        return fwd.loss, self.backward(fwd)
