"""Where a token is: what attention itself cannot see.

Attention with no position information is permutation-equivariant: shuffle the tokens and the
outputs shuffle the same way. A model learns order only from what is added to the tokens or to
their queries and keys:

- ``learned``     a trained vector per position, added to the token embedding (GPT-2; the default);
- ``sinusoidal``  a fixed vector per position, sines and cosines of geometric frequencies
                  (Vaswani et al., 2017), added to the token embedding;
- ``rope``        rotary position embedding (Su et al., 2021): each pair of query/key coordinates is
                  rotated by an angle proportional to the position, so ``q_m . k_n`` depends on the
                  positions only through ``m - n``. Nothing is added to the tokens.
"""
from __future__ import annotations

import torch

from ..choices import check_choice

POSITIONS = ("learned", "sinusoidal", "rope", "none")


def check_position(position: str) -> str:
    return check_choice("position", position, POSITIONS)


def sinusoidal_table(n_positions: int, d: int, base: float = 10_000.0) -> torch.Tensor:
    """``[n_positions, d]``: row p is (sin(p w_0), cos(p w_0), sin(p w_1), cos(p w_1), ...), w_i = base^(-2i/d)."""
    if d % 2:
        raise ValueError(f"sinusoidal positions need an even width, got d = {d}")
    p = torch.arange(n_positions, dtype=torch.float64)[:, None]
    w = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)                 # [d/2]
    table = torch.empty(n_positions, d, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.sin(p * w), torch.cos(p * w)
    return table.float()


def rope_angles(positions: torch.Tensor, d_head: int, base: float = 10_000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles ``positions * w_i`` (``w_i = base^(-2i/d_head)``), shaped
    ``[..., T, d_head / 2]`` for positions ``[..., T]``."""
    if d_head % 2:
        raise ValueError(f"rotary positions need an even head width, got d_head = {d_head}")
    w = base ** (-torch.arange(0, d_head, 2, device=positions.device, dtype=torch.float32) / d_head)
    angles = positions.to(torch.float32)[..., None] * w                          # [..., T, d/2]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10_000.0) -> torch.Tensor:
    """Rotate each pair of coordinates (x_2i, x_2i+1) of ``x [B, H, T, d_head]`` by ``positions * w_i``.

    ``positions``: ``[T]`` (one sequence of positions for the batch) or ``[B, T]`` (per row, e.g. counted
    from each row's first real token).
    """
    cos, sin = rope_angles(positions, x.shape[-1], base)                          # [(B,) T, d/2]
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]                                     # [B, 1, T, d/2]: over heads
    x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)       # [..., T, d/2, 2]
    return out.flatten(-2).to(x.dtype)
