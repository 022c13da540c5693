"""The learning-rate range test (Smith, 2017): raise the rate exponentially, one step per rate, and watch the loss.

    rt = lr_range_test(model, batches, lr_min=1e-6, lr_max=1.0, steps=100)
    rt.suggested_lr          # a tenth of the rate at the lowest smoothed loss
    rt.plot()

At tiny rates the loss hardly moves; then it falls faster and faster; past some rate the
steps are too large and it shoots up (the test stops once the smoothed loss exceeds
``diverge`` times its best). Two common readings of the curve are returned: the rate where
the smoothed loss falls fastest (``steepest_lr``) and a tenth of the rate at its minimum
(``suggested_lr``, the more conservative).

It runs on any minilib model whose ``forward(idx, targets, pad_mask=...)`` returns
``(logits, loss)`` (MiniGPT, MiniBERT), with the optimiser and training step of ``train``
(``make_optimizer``, ``train_step``). The model's weights, its train/eval mode, its device
and torch's random state are restored afterwards: the test changes nothing.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..device import pick_device
from .diagnostics import ema
from .loop import TrainConfig, make_optimizer, train_step


@dataclass
class RangeTest:
    lrs: list = field(default_factory=list)
    losses: list = field(default_factory=list)
    smoothed: list = field(default_factory=list)
    steepest_lr: float = float("nan")        # where the smoothed loss falls fastest per unit of log(lr)
    min_loss_lr: float = float("nan")        # where the smoothed loss is lowest
    stopped_early: bool = False              # the loss diverged before lr_max

    @property
    def suggested_lr(self) -> float:
        """A tenth of the rate at the smoothed loss's minimum."""
        return self.min_loss_lr / 10

    def plot(self, ax=None, title="learning-rate range test"):
        import matplotlib.pyplot as plt
        ax = ax or plt.subplots(figsize=(6, 3.2))[1]
        ax.plot(self.lrs, self.losses, color="0.7", lw=1, label="loss")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", lw=1.5, label="smoothed")
        ax.axvline(self.suggested_lr, color="tab:green", ls="--", lw=1, label=f"suggested {self.suggested_lr:.1e}")
        ax.axvline(self.steepest_lr, color="tab:orange", ls=":", lw=1, label=f"steepest {self.steepest_lr:.1e}")
        ax.set_xscale("log")
        ax.set(xlabel="learning rate", ylabel="training loss", title=title)
        ax.legend()
        return ax


def lr_range_test(model, batches, *, lr_min=1e-7, lr_max=1.0, steps=100, beta=0.9, diverge=4.0,
                  config: TrainConfig | None = None, device=None) -> RangeTest:
    """One training step per rate, ``lr_min * (lr_max / lr_min) ** (k / (steps - 1))`` for k = 0 .. steps-1.

    ``batches[k % len(batches)]`` feeds step k; ``config`` supplies AdamW's settings and clipping
    (default ``TrainConfig()``; its own ``lr`` and schedule are not used).
    """
    if not 0 < lr_min < lr_max:
        raise ValueError(f"need 0 < lr_min < lr_max, got lr_min={lr_min}, lr_max={lr_max}")
    if steps < 3:
        raise ValueError(f"steps must be >= 3, got {steps}")
    if len(batches) == 0:
        raise ValueError("no batches to run the range test on")
    cfg = config or TrainConfig(progress=False)
    device = pick_device(device or (None if cfg.device == "auto" else cfg.device))
    params = list(model.parameters())
    home, was_training = params[0].device, model.training
    saved, rng = copy.deepcopy(model.state_dict()), torch.get_rng_state()
    result, state, best = RangeTest(), None, math.inf
    try:
        model.to(device).train()
        opt = make_optimizer(model, cfg, device)
        for k in range(steps):
            lr = lr_min * (lr_max / lr_min) ** (k / (steps - 1))
            for g in opt.param_groups:
                g["lr"] = lr
            batch = tuple(t.to(device) for t in batches[k % len(batches)])
            loss = float(train_step(model, opt, batch, cfg, device))       # read back: the test must see it
            if not math.isfinite(loss):
                result.stopped_early = True
                break
            (smooth,), state = ema([loss], beta, state)
            result.lrs.append(lr)
            result.losses.append(loss)
            result.smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge * best:
                result.stopped_early = True
                break
    finally:
        model.load_state_dict(saved)
        model.to(home).train(was_training)
        torch.set_rng_state(rng)
    if len(result.smoothed) >= 3:
        s = np.asarray(result.smoothed)
        lowest = int(s.argmin())
        result.min_loss_lr = result.lrs[lowest]
        slope = np.gradient(s, np.log(result.lrs))
        result.steepest_lr = result.lrs[int(slope[: max(1, lowest)].argmin())]
    return result
