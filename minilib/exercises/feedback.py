"""How a checker talks to the learner: short, wrapped to the notebook's width, never a traceback."""
from __future__ import annotations

import textwrap


def feedback(message: str, width: int = 88) -> None:
    print(textwrap.fill(message, width=width))


def verdict(ok: bool, good: str, bad: str) -> bool:
    """Print ``good`` or ``bad`` and return ``ok``: the shape of every checker's last line."""
    feedback(good if ok else bad)
    return bool(ok)
