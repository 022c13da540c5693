"""The size fields every transformer config here shares, checked in one place."""
from __future__ import annotations


def check_sizes(cfg) -> None:
    """Refuse sizes no model can have: non-positive counts, heads that do not divide the width, bad dropout."""
    for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    if cfg.n_embd % cfg.n_head:
        raise ValueError(f"n_embd ({cfg.n_embd}) must be divisible by n_head ({cfg.n_head})")
    if not 0.0 <= cfg.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {cfg.dropout}")
