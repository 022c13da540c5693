"""Learning-rate schedules: what rate the optimiser uses at each step.

``schedule_factor(name, step, total, warmup_steps, floor, power)`` is the multiplier of the
peak rate, with Hugging Face's conventions, and equals the matching ``transformers`` schedule
step by step (tested):

========== ============================================ =====================================================
name       after warmup (``p`` = progress in [0, 1])    ``transformers``
========== ============================================ =====================================================
cosine     ``floor + (1 - floor) (1 + cos(pi p)) / 2``  ``get_cosine_schedule_with_warmup`` (floor 0),
                                                        ``get_cosine_with_min_lr_schedule_with_warmup``
linear     ``floor + (1 - floor) (1 - p)``              ``get_linear_schedule_with_warmup`` (floor 0),
                                                        ``get_polynomial_decay_schedule_with_warmup``, power 1
polynomial ``floor + (1 - floor) (1 - p) ** power``     ``get_polynomial_decay_schedule_with_warmup``
constant   ``1``                                        ``get_constant_schedule_with_warmup``
========== ============================================ =====================================================

Warmup rises linearly, ``step / warmup_steps``; ``p = (step - warmup) / (total - warmup)``,
held at 1 after ``total`` (the rate stays on its floor). BERT used linear decay to 0 after a
10,000-step warmup; cosine decay is the common choice today.

``warmup_steps(warmup, total)``: a warmup given as a count (>= 1) or as a ratio of the run (< 1).
``transformers_rates(...)``: the same schedule computed by ``transformers`` (the reference for checks).

``lr_at(step, total, cfg)`` is the rate ``minilib.train.train`` uses at optimiser step ``step``
(``cfg.schedule``, ``cfg.warmup``, ``cfg.min_lr_ratio``, ``cfg.lr_power``). It differs from the
above only during warmup, where the loop uses ``(step + 1) / warmup_steps``: Hugging Face's
first update runs at rate 0 and so does nothing; the loop's first one already learns.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..choices import check_choice

if TYPE_CHECKING:
    from .loop import TrainConfig

SCHEDULES = ("cosine", "linear", "polynomial", "constant")


def check_schedule(name: str) -> str:
    return check_choice("schedule", name, SCHEDULES)


def warmup_steps(warmup: float, total: int) -> int:
    """Warmup as a number of steps: ``warmup`` < 1 is a ratio of ``total``, otherwise a count."""
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 (a step count, or a ratio of the run below 1), got {warmup}")
    return int(warmup * total) if warmup < 1 else int(warmup)


def decay(name: str, progress: float, floor: float = 0.0, power: float = 1.0) -> float:
    """The multiplier after warmup at ``progress`` in [0, 1]: from 1 down to ``floor``."""
    check_schedule(name)
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"the floor (min_lr_ratio) must be in [0, 1], got {floor}")
    p = min(1.0, max(0.0, progress))
    if name == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))
    if name == "constant":
        return 1.0
    return floor + (1 - floor) * (1 - p) ** (1.0 if name == "linear" else power)


def schedule_factor(name: str, step: int, total: int, warmup: int, floor: float = 0.0, power: float = 1.0) -> float:
    """Multiplier of the peak rate at ``step`` (Hugging Face's conventions: 0 at step 0 when there is warmup)."""
    if step < warmup:
        return step / max(1, warmup)
    return decay(name, (step - warmup) / max(1, total - warmup), floor, power)


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """The loop's rate at optimiser step ``step`` of ``total``: warmup ``(step + 1) / warmup``, then the schedule."""
    warm = warmup_steps(cfg.warmup, total)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return cfg.lr * schedule_factor(cfg.schedule, step, total, warm, cfg.min_lr_ratio, cfg.lr_power)


def transformers_rates(name: str, total: int, warmup: int, floor: float = 0.0, power: float = 1.0,
                       lr: float = 1.0) -> list:
    """The rate at steps ``0..total`` from the matching ``transformers`` scheduler (table above), stepped as a
    training loop steps it: the reference ``schedule_factor`` is checked against."""
    import torch
    import transformers as T
    check_schedule(name)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    kw = {"num_warmup_steps": warmup}
    if name == "constant":
        sched = T.get_constant_schedule_with_warmup(opt, **kw)
    elif name == "cosine" and floor == 0:
        sched = T.get_cosine_schedule_with_warmup(opt, num_training_steps=total, **kw)
    elif name == "cosine":
        sched = T.get_cosine_with_min_lr_schedule_with_warmup(opt, num_training_steps=total, min_lr_rate=floor,
                                                              **kw)
    elif name == "linear" and floor == 0:
        sched = T.get_linear_schedule_with_warmup(opt, num_training_steps=total, **kw)
    else:                                         # linear with a floor is polynomial decay with power 1
        sched = T.get_polynomial_decay_schedule_with_warmup(opt, num_training_steps=total, lr_end=floor * lr,
                                                           power=1.0 if name == "linear" else power, **kw)
    rates = []
    for _ in range(total + 1):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates
