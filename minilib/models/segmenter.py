"""BiLSTMSegmenter: a bidirectional LSTM tagger, with or without a self-attention block on top.

The configuration of seed 004 (a BiLSTM text segmenter with 8-head attention), exactly:

- input: a frozen 60-d feature vector per token (a buffer, not a parameter; see
  ``minilib.data.segmentation.hashed_features``);
- a 2-layer bidirectional LSTM, 256 units per direction: 2,228,224 parameters;
- optionally ``LN(h + MHA(h))``: ``MultiHeadAttention(512, 8, d_attn=256)`` (Q, K, V 512 -> 256,
  output 256 -> 512; 525,568) and ``LayerNorm(512)`` (1,024); the padding is masked on the
  scores, there is no positional encoding (the LSTM already knows the order): 526,592;
- a classifier 512 -> 2 (boundary after this token or not): 1,026.

With attention 2,755,842 parameters, without 2,229,250 (tests assert both).

The loss: cross-entropy with label smoothing (0.1), plus the attention-entropy term

    R = mean over streams b, heads h and real query tokens i of  H(A[b, h, i, :]) / log(n_b),
    H(a) = -sum_j a_j log a_j  over the n_b real keys of stream b,

where ``A`` are the attention weights *before* dropout. R is each row's entropy as a
fraction of its largest possible value (uniform attention over the stream): 0 when a
query looks at one key, 1 when it looks at all alike. ``loss = CE + entropy_lambda * R``:
a positive lambda (the seed's 0.08) rewards *peaked* heads; lambda = 0 removes the term
(and the weights are then never materialised). The seed names the term only
("attention head diversity"); this is our reading: uniform heads are all the same head.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..attention import AttentionOptions, MultiHeadAttention


@dataclass
class SegmenterConfig(AttentionOptions):
    """The seed's configuration by default; attention choices (score, ...) from ``AttentionOptions``."""
    vocab_size: int = 1_004
    d_input: int = 60               # frozen features per token
    hidden: int = 256               # LSTM units per direction (the LSTM output is 2 * hidden wide)
    n_layers: int = 2
    attention: bool = True          # the attention block on top of the LSTM, or not
    n_head: int = 8
    d_attn: int = 256               # width of q, k, v over all heads
    attn_dropout: float = 0.15      # on the attention weights
    dropout: float = 0.0            # between LSTM layers and on the LSTM output
    label_smoothing: float = 0.1
    entropy_lambda: float = 0.08    # weight of the attention-entropy term R (0: off)
    position: str = "none"          # no positional encoding (the LSTM knows the order); "rope" is allowed

    def __post_init__(self):
        super().__post_init__()
        if self.masking != "-inf":
            raise ValueError("a tagger masks only padding; masking='zero' is a causal-LM pitfall: use '-inf'")
        if self.position not in ("none", "rope"):
            raise ValueError(f"position={self.position!r}: the segmenter adds no position embeddings (its LSTM "
                             "already knows the order); use 'none' (the seed's choice) or 'rope' (inside attention)")
        for name in ("vocab_size", "d_input", "hidden", "n_layers", "n_head", "d_attn"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_attn % self.n_head:
            raise ValueError(f"d_attn ({self.d_attn}) must be divisible by n_head ({self.n_head})")
        for name in ("attn_dropout", "dropout", "label_smoothing"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.entropy_lambda < 0:
            raise ValueError(f"entropy_lambda must be >= 0 (0 switches the term off), got {self.entropy_lambda}")

    @property
    def d_model(self) -> int:
        return 2 * self.hidden

    def to_dict(self):
        return asdict(self)


def attention_entropy(weights, pad_mask):
    """R: mean over streams, heads and real queries of each row's entropy divided by log(number of real keys).

    weights [B, H, T, T] (rows sum to 1 over the real keys), pad_mask [B, T] (True = real).
    A stream of one token has nothing to choose from and counts 0.
    """
    real = pad_mask[:, None, :, None].to(weights.dtype)                       # [B, 1, T, 1] real queries
    h = -(weights * torch.log(weights.clamp_min(1e-30))).sum(-1, keepdim=True)  # [B, H, T, 1]; 0 log 0 = 0
    n = pad_mask.sum(-1).to(weights.dtype)                                     # [B]
    norm = torch.log(n).clamp_min(1e-12)[:, None, None, None]
    h = torch.where(n[:, None, None, None] > 1, h / norm, torch.zeros_like(h))
    return (h * real).sum() / (real.sum() * weights.shape[1])


def reverse_index(lengths, T):
    """[B, T] index that reverses each row's first ``lengths[b]`` positions and keeps the padding in place
    (applying it twice gives the identity)."""
    t = torch.arange(T, device=lengths.device)[None, :]                        # [1, T]
    L = lengths[:, None]
    return torch.where(t < L, L - 1 - t, t)                                    # [B, T]


class BiLSTM(nn.Module):
    """Bidirectional LSTM layers for right-padded batches, as ``nn.LSTM(bidirectional=True)`` with
    ``pack_padded_sequence`` computes them (tested equal with the same weights) and with the same
    parameters, but about 5x faster on a CPU: packed sequences miss PyTorch's fused CPU kernel.

    Each layer is a forward and a backward ``nn.LSTM``. The forward one reads the padded rows as
    they are (padding comes after the real tokens, so it cannot reach them); the backward one reads
    each row's real tokens reversed (``reverse_index``), so it too starts at a real token.
    """

    def __init__(self, d_in, hidden, n_layers, dropout=0.0):
        super().__init__()
        sizes = [d_in] + [2 * hidden] * (n_layers - 1)
        self.fwd = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in sizes)
        self.bwd = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in sizes)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, lengths):
        """x [B, T, d_in], lengths [B] -> [B, T, 2 * hidden] (positions past a row's length: undefined)."""
        B, T, _ = x.shape
        rev = reverse_index(lengths.to(x.device), T)
        for layer, (fwd, bwd) in enumerate(zip(self.fwd, self.bwd)):
            if layer > 0:
                x = self.drop(x)                                                # between layers, as nn.LSTM
            f, _ = fwd(x)                                                       # [B, T, hidden]
            r = rev[:, :, None].expand(B, T, x.shape[-1])
            b, _ = bwd(x.gather(1, r))                                          # the real tokens, reversed
            b = b.gather(1, rev[:, :, None].expand(B, T, b.shape[-1]))          # back in reading order
            x = torch.cat([f, b], dim=-1)
        return x


class BiLSTMSegmenter(nn.Module):
    """Boundary tagger: frozen features -> BiLSTM -> [LN(h + attention(h))] -> 2 logits per token."""

    def __init__(self, config: SegmenterConfig, features):
        super().__init__()
        c = self.config = config
        features = torch.as_tensor(features, dtype=torch.float32)
        if features.shape != (c.vocab_size, c.d_input):
            raise ValueError(f"features must be [vocab_size, d_input] = [{c.vocab_size}, {c.d_input}], "
                             f"got {tuple(features.shape)}; build them with hashed_features(tok.itos, {c.d_input})")
        self.register_buffer("features", features)                              # frozen: not a parameter
        self.lstm = BiLSTM(c.d_input, c.hidden, c.n_layers, c.dropout)
        self.drop = nn.Dropout(c.dropout)
        if c.attention:
            self.attn = MultiHeadAttention(c.d_model, c.n_head, d_attn=c.d_attn, causal=False,
                                           dropout=c.attn_dropout, **c.attention_kwargs())
            self.ln = nn.LayerNorm(c.d_model)
        self.classifier = nn.Linear(c.d_model, 2)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def param_counts(self) -> dict:
        """Parameters per block: lstm, attention (MHA + LayerNorm), classifier."""
        count = lambda *ms: sum(p.numel() for m in ms for p in m.parameters())
        att = count(self.attn, self.ln) if self.config.attention else 0
        return {"lstm": count(self.lstm), "attention": att, "classifier": count(self.classifier)}

    def encode(self, idx, pad_mask=None):
        """idx [B, T] (right-padded) -> the BiLSTM's output h [B, T, 2*hidden] and the pad mask."""
        B, T = idx.shape
        if pad_mask is None:
            pad_mask = torch.ones(B, T, dtype=torch.bool, device=idx.device)
        lengths = pad_mask.sum(-1)
        if bool((lengths < 1).any()):
            raise ValueError("every stream needs at least one real token (pad_mask has an all-False row)")
        x = self.features[idx]                                                  # [B, T, d_input]
        return self.drop(self.lstm(x, lengths)), pad_mask                       # [B, T, 2*hidden]

    def forward(self, idx, targets=None, pad_mask=None, return_weights=False):
        """idx [B, T] token ids; targets [B, T] (0/1, -100 = ignore). Returns (logits [B, T, 2], loss)
        and, with ``return_weights``, the attention weights [B, H, T, T] (None without attention)."""
        c = self.config
        h, pad_mask = self.encode(idx, pad_mask)
        need = c.attention and (return_weights or (targets is not None and c.entropy_lambda > 0))
        weights = None
        if c.attention:
            a = self.attn(h, pad_mask=pad_mask, return_weights=need)
            a, weights = a if need else (a, None)
            h = self.ln(h + a)                                                  # [B, T, 2*hidden]
        logits = self.classifier(h)                                             # [B, T, 2]
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, 2), targets.reshape(-1), ignore_index=-100,
                                   label_smoothing=c.label_smoothing)
            if c.attention and c.entropy_lambda > 0:
                loss = loss + c.entropy_lambda * attention_entropy(weights, pad_mask)
        return (logits, loss, weights) if return_weights else (logits, loss)

    @torch.no_grad()
    def attention_weights(self, idx, pad_mask=None):
        """The attention weights [B, H, T, T] on a batch (eval mode, no dropout)."""
        if not self.config.attention:
            raise ValueError("this segmenter has no attention block (config.attention=False)")
        was = self.training
        self.eval()
        try:
            return self(idx, pad_mask=pad_mask, return_weights=True)[2]
        finally:
            self.train(was)


def boundary_logits(logits):
    """The binary logit z = logit(boundary) - logit(no boundary), so p(boundary) = sigmoid(z)."""
    return logits[..., 1] - logits[..., 0]

