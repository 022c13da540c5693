"""Named scales: the same code runs a seconds-long smoke test, a laptop run and the published configuration."""
from __future__ import annotations

import os

from .choices import check_choice

SCALES = ("smoke", "cpu", "paper")


def resolve_scale(scale: str = "auto") -> str:
    """``"auto"``: ``$MINILIB_SCALE`` if set, else ``paper`` on a GPU and ``cpu`` on a CPU."""
    if scale == "auto":
        env = os.environ.get("MINILIB_SCALE")
        if env:
            scale = env
        else:
            import torch
            scale = "paper" if torch.cuda.is_available() else "cpu"
    return check_choice("scale", scale, SCALES, extra=" or 'auto'")
