"""Training: the loop every lab uses, its learning-rate schedules, the range test, and diagnostics.

- ``loop``         ``train`` (AdamW, clipping, a divergence guard, progress, checkpoints), ``train_step``,
                   ``tail_mean`` (where a loss curve ended)
- ``schedules``    ``lr_at`` and ``schedule_factor``: warmup (steps or a ratio), then cosine, linear or
                   polynomial decay to a floor, equal to ``transformers``' schedules
- ``range_test``   ``lr_range_test``: an exponential ramp of the rate, loss against rate, a suggested rate
- ``diagnostics``  gradient norm, update-to-weight ratio per layer, smoothed loss, a NaN/overflow detector
                   that names the layer (``TrainConfig(diagnostics=True)``)

    history = train(model, batches, TrainConfig(lr=5e-4, schedule="linear", warmup=0.1))
"""
from .diagnostics import Diagnostics, NonFiniteError, grad_norm, locate_non_finite, plot_diagnostics
from .loop import History, TrainConfig, TrainingDiverged, make_optimizer, tail_mean, train, train_step
from .range_test import RangeTest, lr_range_test
from .schedules import (SCHEDULES, decay, lr_at, schedule_factor, transformers_rates,
                        warmup_steps)

__all__ = ["History", "TrainConfig", "TrainingDiverged", "make_optimizer", "tail_mean", "train", "train_step", "lr_at",
           "SCHEDULES", "decay", "schedule_factor", "transformers_rates", "warmup_steps", "RangeTest", "lr_range_test",
           "Diagnostics",
           "NonFiniteError", "grad_norm", "locate_non_finite", "plot_diagnostics"]
