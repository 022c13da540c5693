"""MiniGPT: a small decoder-only transformer whose attention is a config choice.

Modelled on nanoGPT's ``model.py``: one config dataclass, pre-LayerNorm blocks,
shape comments. What the course varies lives in ``GPTConfig``: the attention
(``AttentionOptions``: score, normaliser, Q/K/V sharing, masking, positions) and
where the LayerNorms sit (``norm``). The defaults are the sound choices (GPT-2's).
Generation can keep a key/value cache (``attention.KVCache``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attention import AttentionOptions, KVCache, MultiHeadAttention, sinusoidal_table
from ..choices import check_choice
from ..metrics.lm import token_loss
from .sizes import check_sizes

NORMS = ("pre", "post")


@dataclass
class GPTConfig(AttentionOptions):
    """The model's size; the attention choices (score, qkv, masking, ...) come from ``AttentionOptions``."""
    vocab_size: int = 8000
    block_size: int = 100      # longest input sequence
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 80
    dropout: float = 0.0
    tie_weights: bool = False  # share token embedding and LM head
    bias: bool = True
    norm: str = "pre"          # "pre": x + f(LN(x)) (GPT-2) | "post": LN(x + f(x)) (the 2017 transformer, BERT)

    def __post_init__(self):
        super().__post_init__()
        check_choice("norm", self.norm, NORMS)
        check_sizes(self)


class MLP(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """A transformer block. Pre-LN (default): x + attn(ln1(x)), then x + mlp(ln2(x)).
    Post-LN: ln1(x + attn(x)), then ln2(x + mlp(x))."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(c.n_embd)
        self.attn = MultiHeadAttention(c.n_embd, c.n_head, causal=True, dropout=c.dropout, bias=c.bias,
                                       **c.attention_kwargs())
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.mlp = MLP(c)
        self.drop = nn.Dropout(c.dropout)
        self.pre = c.norm == "pre"

    def attn_input(self, x):
        """What the attention layer sees of the hidden state x [B, T, C]: ln1(x) (pre-LN) or x (post-LN)."""
        return self.ln1(x) if self.pre else x

    def forward(self, x, pad_mask=None, return_weights=False, positions=None, cache=None):
        a = self.attn(self.attn_input(x), pad_mask=pad_mask, return_weights=return_weights,
                      positions=positions, cache=cache)
        a, w = a if return_weights else (a, None)
        if self.pre:
            x = x + self.drop(a)                                       # the residual stream is never normalised
            x = x + self.mlp(self.ln2(x))
        else:
            x = self.ln1(x + self.drop(a))                             # the sum is normalised after each step
            x = self.ln2(x + self.mlp(x))
        return x, w


class MiniGPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        if c.position == "learned":
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        elif c.position == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(c.block_size, c.n_embd), persistent=False)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList([Block(c) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():   # GPT-2: scale residual projections by depth
            if name.endswith("out_proj.weight") or name.endswith("mlp.proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ hooks a variant may override
    def positions(self, idx, pad_mask=None, offset=0):
        """Position of every token: offset, ..., offset + T - 1 ([T], shared by the batch)."""
        T = idx.shape[1]
        if offset + T > self.config.block_size:
            raise ValueError(f"sequence length {offset + T} exceeds block_size {self.config.block_size}; "
                             f"truncate the input to {self.config.block_size} tokens or build the model "
                             f"with GPTConfig(block_size={offset + T})")
        return torch.arange(offset, offset + T, device=idx.device)

    def embed(self, idx, pad_mask=None, positions=None):
        """Token (+ position) embeddings ``x [B, T, C]``, and the padding mask attention should use."""
        positions = self.positions(idx, pad_mask) if positions is None else positions
        x = self.tok_emb(idx)                                          # [B, T, C]
        if self.config.position == "learned":
            x = x + self.pos_emb(positions)
        elif self.config.position == "sinusoidal":
            x = x + self.pos_table[positions]
        return self.drop(x), pad_mask                                  # rope: positions act inside attention

    # ------------------------------------------------------------------ the forward pass, in pieces
    def residual_stream(self, idx, pad_mask=None, *, upto=None, return_weights=False, cache=None):
        """The hidden states ``[x_0, x_1, ..., x_L]`` (each [B, T, C]): ``x_l`` enters block ``l``,
        ``x_L`` leaves the last one. ``upto``: stop after ``x_upto``. Returns ``(states, weights)``,
        ``weights`` a list of each block's attention weights [B, H, T, S] (None unless asked).
        ``cache``: a ``KVCache``; ``idx`` then holds only the new tokens, after the ``len(cache)`` cached ones."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be [B, T] token ids, got shape {tuple(idx.shape)}")
        positions = self.positions(idx, pad_mask, offset=len(cache) if cache is not None else 0)
        x, attn_mask = self.embed(idx, pad_mask, positions)          # [B, T, C]
        rope = positions if self.config.position == "rope" else None
        states, weights = [x], []
        for i, block in enumerate(self.blocks[:upto]):
            x, w = block(x, pad_mask=attn_mask, return_weights=return_weights, positions=rope,
                         cache=cache.layers[i] if cache is not None else None)
            states.append(x)
            weights.append(w)
        return states, weights

    def layer_input(self, idx, layer, pad_mask=None):
        """The residual stream entering block ``layer``: [B, T, C]."""
        return self.residual_stream(idx, pad_mask, upto=layer)[0][layer]

    def qkv(self, idx, layer, pad_mask=None):
        """Queries, keys and values of block ``layer`` on ``idx``: each [B, H, T, d_head], from
        ``MultiHeadAttention.project`` (``q is k`` when the model shares them)."""
        block = self.blocks[layer]
        rope = self.positions(idx, pad_mask) if self.config.position == "rope" else None
        return block.attn.project(block.attn_input(self.layer_input(idx, layer, pad_mask)), rope)

    def forward(self, idx, targets=None, pad_mask=None, cache=None):
        """idx [B, T] -> (logits [B, T, V], mean cross-entropy over targets != -100, or None).
        With a ``cache``, idx holds the new tokens only (see ``residual_stream``)."""
        states, _ = self.residual_stream(idx, pad_mask, cache=cache)
        logits = self.head(self.ln_f(states[-1]))                    # [B, T, V]
        loss = None if targets is None else token_loss(logits, targets)
        return logits, loss

    @torch.no_grad()
    def attention_weights(self, idx, pad_mask=None):
        """Every layer's attention weights: a list of n_layer tensors [B, H, T, T] (for plots and bertviz)."""
        return self.residual_stream(idx, pad_mask, return_weights=True)[1]

    @staticmethod
    def pick(logits, temperature=1.0, top_k=None, generator=None):
        """Next tokens [B, 1] from last-position logits [B, V]: greedy (``temperature=0``), or sampled at
        ``temperature`` among the ``top_k`` most likely (all when None)."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0: greedy), got {temperature}")
        if temperature == 0:
            return logits.argmax(-1, keepdim=True)
        logits = logits.float() / temperature
        if top_k is not None:
            kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, stop_id=None, generator=None,
                 use_cache=True):
        """Continue idx [B, T] by ``max_new_tokens`` tokens (``pick``: greedy, temperature, top-k).

        ``use_cache``: keep every layer's keys and values (``KVCache``) and feed the model one new token a
        step; without it every step reruns the whole sequence. Both give the same tokens. Past
        ``block_size`` the context slides (the oldest tokens drop out and the cache starts afresh).
        Rows that produced ``stop_id`` keep emitting it; generation ends when every row has.
        """
        bs = self.config.block_size
        done = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        cache = KVCache(len(self.blocks)) if use_cache else None
        logits, _ = self(idx[:, -bs:], cache=cache)                    # the prompt (prefill)
        for step in range(max_new_tokens):
            nxt = self.pick(logits[:, -1], temperature, top_k, generator)          # [B, 1]
            if stop_id is not None:
                nxt = nxt.masked_fill(done[:, None], stop_id)
                done |= nxt[:, 0] == stop_id
            idx = torch.cat([idx, nxt], dim=1)
            if step == max_new_tokens - 1 or (stop_id is not None and bool(done.all())):
                break
            if cache is not None and len(cache) < bs:
                logits, _ = self(nxt, cache=cache)                     # one new token; the past is cached
            else:
                cache = KVCache(len(self.blocks)) if use_cache else None
                logits, _ = self(idx[:, -bs:], cache=cache)            # the whole (windowed) context
        return idx
