"""MiniBERT: a small bidirectional encoder trained by masked-language modelling, in BERT's own layout.

What differs from ``MiniGPT`` is what BERT does (Devlin et al., 2019), kept exactly so that
Hugging Face's ``BertForMaskedLM`` with the same weights gives the same logits (tested):

- embeddings: token + position (+ segment), then LayerNorm and dropout;
- **post**-LayerNorm blocks: ``x = LN(x + attn(x))``, then ``x = LN(x + mlp(x))``;
- no causal mask: every token sees every real token (padding is masked on the scores);
- an MLM head: dense + GELU + LayerNorm, then a decoder tied to the token embedding, with a bias.

The attention is the same ``MultiHeadAttention`` as MiniGPT's; its choices (score, Q/K/V
sharing, ...) come from ``AttentionOptions``, which ``BERTConfig`` inherits.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attention import AttentionOptions, MultiHeadAttention, sinusoidal_table
from ..metrics.lm import token_loss
from .sizes import check_sizes


@dataclass
class BERTConfig(AttentionOptions):
    """The encoder's size; attention choices come from ``AttentionOptions``."""
    vocab_size: int = 2000
    block_size: int = 128        # longest input (BERT's max_position_embeddings)
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    n_segments: int = 2          # segment (token type) embeddings; 0: none
    dropout: float = 0.1         # BERT's hidden and attention dropout
    layer_norm_eps: float = 1e-12
    tie_weights: bool = True     # MLM decoder = token embedding (BERT's default)

    def __post_init__(self):
        super().__post_init__()
        if self.masking != "-inf":
            raise ValueError("an encoder masks only padding; masking='zero' is a causal-LM pitfall: use '-inf'")
        check_sizes(self)


class BertLayer(nn.Module):
    """Post-LayerNorm: x = LN(x + attn(x)); x = LN(x + W2 gelu(W1 x))."""

    def __init__(self, c: BERTConfig):
        super().__init__()
        self.attn = MultiHeadAttention(c.n_embd, c.n_head, causal=False, dropout=c.dropout, **c.attention_kwargs())
        self.ln1 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_eps)
        self.fc = nn.Linear(c.n_embd, 4 * c.n_embd)
        self.proj = nn.Linear(4 * c.n_embd, c.n_embd)
        self.ln2 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(c.dropout)

    def attn_input(self, x):
        """What the attention layer sees of the hidden state x: x itself (post-LN: the norm comes after)."""
        return x

    def forward(self, x, pad_mask=None, return_weights=False):
        a = self.attn(self.attn_input(x), pad_mask=pad_mask, return_weights=return_weights)
        a, w = a if return_weights else (a, None)
        x = self.ln1(x + self.drop(a))                                    # [B, T, C]
        x = self.ln2(x + self.drop(self.proj(F.gelu(self.fc(x)))))
        return x, w


class MLMHead(nn.Module):
    """BERT's prediction head: dense + GELU + LayerNorm, then the decoder to the vocabulary (+ bias)."""

    def __init__(self, c: BERTConfig):
        super().__init__()
        self.dense = nn.Linear(c.n_embd, c.n_embd)
        self.ln = nn.LayerNorm(c.n_embd, eps=c.layer_norm_eps)
        self.decoder = nn.Linear(c.n_embd, c.vocab_size)

    def forward(self, x):
        return self.decoder(self.ln(F.gelu(self.dense(x))))            # [B, T, V]


class MiniBERT(nn.Module):
    def __init__(self, config: BERTConfig):
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        if c.position == "learned":                                   # BERT's own; the others as options
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        elif c.position == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_table(c.block_size, c.n_embd), persistent=False)
        self.seg_emb = nn.Embedding(c.n_segments, c.n_embd) if c.n_segments else None
        self.ln_emb = nn.LayerNorm(c.n_embd, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList([BertLayer(c) for _ in range(c.n_layer)])
        self.head = MLMHead(c)
        self.apply(self._init_weights)
        if c.tie_weights:
            self.head.decoder.weight = self.tok_emb.weight

    @staticmethod
    def _init_weights(m):
        """BERT's initialisation: normal(0, 0.02) weights, zero biases, LayerNorm at (1, 0)."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_params(self):
        return sum(p.numel() for p in self.parameters())

    def embed(self, idx, segments=None):
        """Token + position (+ segment) embeddings, LayerNorm, dropout: x [B, T, C]."""
        T = idx.shape[1]
        if T > self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}; "
                             f"truncate the input or build the model with BERTConfig(block_size={T})")
        positions = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx)
        if self.config.position == "learned":
            x = x + self.pos_emb(positions)
        elif self.config.position == "sinusoidal":
            x = x + self.pos_table[positions]                         # rope acts inside attention; none: nothing
        if self.seg_emb is not None:
            x = x + self.seg_emb(torch.zeros_like(idx) if segments is None else segments)
        elif segments is not None:
            raise ValueError("this model has no segment embeddings; build it with BERTConfig(n_segments=2)")
        return self.drop(self.ln_emb(x))

    def residual_stream(self, idx, pad_mask=None, *, segments=None, upto=None, return_weights=False):
        """Hidden states ``[x_0, ..., x_L]`` (x_l enters layer l) and each layer's attention weights (if asked)."""
        if idx.dim() != 2:
            raise ValueError(f"idx must be [B, T] token ids, got shape {tuple(idx.shape)}")
        x = self.embed(idx, segments)
        states, weights = [x], []
        for block in self.blocks[:upto]:
            x, w = block(x, pad_mask=pad_mask, return_weights=return_weights)
            states.append(x)
            weights.append(w)
        return states, weights

    def layer_input(self, idx, layer, pad_mask=None, segments=None):
        """The hidden state entering layer ``layer``: [B, T, C]."""
        return self.residual_stream(idx, pad_mask, segments=segments, upto=layer)[0][layer]

    def qkv(self, idx, layer, pad_mask=None, segments=None):
        """Queries, keys and values of layer ``layer``, each [B, H, T, d_head] (``MultiHeadAttention.project``)."""
        block = self.blocks[layer]
        return block.attn.project(block.attn_input(self.layer_input(idx, layer, pad_mask, segments)))

    def forward(self, idx, targets=None, pad_mask=None, segments=None):
        """idx [B, T] (masked input) -> (logits [B, T, V], mean cross-entropy over targets != -100, or None)."""
        states, _ = self.residual_stream(idx, pad_mask, segments=segments)
        logits = self.head(states[-1])
        loss = None if targets is None else token_loss(logits, targets)
        return logits, loss

    @torch.no_grad()
    def attention_weights(self, idx, pad_mask=None, segments=None):
        """Every layer's attention weights: a list of n_layer tensors [B, H, T, T]."""
        return self.residual_stream(idx, pad_mask, segments=segments, return_weights=True)[1]
