"""Training: the loop every lab uses, and its learning-rate schedules.

- ``loop``       ``train`` (AdamW, clipping, a divergence guard, progress, checkpoints), ``train_step``
- ``schedules``  ``lr_at``: linear warmup, then cosine decay to a floor

    history = train(model, batches, TrainConfig(lr=5e-4))
"""
from .loop import History, TrainConfig, TrainingDiverged, make_optimizer, train, train_step
from .schedules import lr_at

__all__ = ["History", "TrainConfig", "TrainingDiverged", "make_optimizer", "train", "train_step", "lr_at"]
