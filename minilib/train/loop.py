"""The training loop every lab uses: AdamW, linear warmup + a decay schedule (cosine by default),
clipping, a divergence guard, optional diagnostics, progress, and checkpoints that resume
bit-identically on CPU.

    history = train(model, batches, TrainConfig(lr=5e-4))

``batches`` is a list of ``Batch(idx, targets, pad_mask)`` (see ``minilib.data``);
step ``s`` uses ``batches[s % len(batches)]``, so a resumed run sees exactly the
batches the uninterrupted run would have seen.
"""
from __future__ import annotations

import io
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field

import torch

from ..choices import check_choice
from ..device import autocast, pick_device, tune_cpu
from ..files import write_atomic
from .diagnostics import Diagnostics, TrainingDiverged
from .schedules import check_schedule, lr_at


OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}


@dataclass
class TrainConfig:
    lr: float = 5e-4
    steps: int | None = None          # None: one pass over the batches (one epoch)
    warmup: float = 0.05              # warmup steps; a value < 1 is a fraction of ``steps``
    min_lr_ratio: float = 0.1         # the schedule decays to lr * min_lr_ratio
    schedule: str = "cosine"          # after warmup: "cosine" | "linear" | "polynomial" | "constant" (schedules.py)
    lr_power: float = 1.0             # the polynomial schedule's power
    weight_decay: float = 0.1
    optimizer: str = "adamw"          # "adamw" (decoupled weight decay) | "adam" (weight decay as an L2 gradient term)
    betas: tuple = (0.9, 0.95)
    grad_clip: float | None = 1.0
    log_every: int = 10               # loss is read back (a host sync) and checked every log_every steps
    checkpoint: str | None = None     # path; resumed from if it exists
    checkpoint_every: int = 0         # 0: save only when the call ends
    stop_after: int | None = None     # end this call after this many steps (resume later)
    device: str = "auto"
    amp: bool = True                  # bf16 autocast on CUDA
    progress: bool = True
    diagnostics: bool = False         # grad norm, update/weight ratios, smoothed loss, NaN detector (diagnostics.py)
    diagnostics_every: int = 10       # update/weight ratios every this many steps

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_schedule(self.schedule)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1 (or None for one epoch), got {self.steps}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {self.log_every}")


def tail_mean(losses, fraction: float = 0.1) -> float:
    """Mean of the last ``fraction`` of a loss curve (``floor(fraction * steps)`` steps, at least the last one):
    where training ended, less noisy than the last step. The runs' ``final_train_loss`` is the last 5%."""
    losses = list(losses)
    if not losses:
        raise ValueError("an empty loss curve has no tail")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    tail = losses[-max(1, int(len(losses) * fraction + 1e-9)):]
    return math.fsum(tail) / len(tail)


@dataclass
class History:
    losses: list = field(default_factory=list)    # train loss of every step
    lrs: list = field(default_factory=list)
    step: int = 0
    train_seconds: float = 0.0                    # wall time spent in training steps
    tokens: int = 0
    window_ms: list = field(default_factory=list)  # mean ms per step of each log window (between loss reads)
    grad_norms: list = field(default_factory=list)     # with diagnostics on: every step's gradient norm
    update_ratios: list = field(default_factory=list)  # ... {"step", layer: |update| / |weight|}
    loss_ema: list = field(default_factory=list)       # ... the smoothed loss of every step

    @property
    def seconds_per_step(self):
        return self.train_seconds / max(1, self.step)

    @property
    def median_step_ms(self):
        """Median over the log windows of the time per step: robust to a slow first step and to bursts of load."""
        return statistics.median(self.window_ms) if self.window_ms else float("nan")

    def to_dict(self):
        return asdict(self)


def make_optimizer(model, cfg: TrainConfig, device):
    """AdamW (or Adam); matrices decay, biases/LayerNorm/embedding-free vectors don't (as in nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return OPTIMIZERS[cfg.optimizer](groups, lr=cfg.lr, betas=cfg.betas, fused=device.type == "cuda")


def _save(path, model, opt, history):
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "history": history.to_dict(),
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}, buf)
    write_atomic(path, buf.getvalue())


def _load(path, model, opt):
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    torch.set_rng_state(ck["rng"])
    if ck.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["cuda_rng"])
    return History(**ck["history"])


def _progress(total, initial, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc="training", unit="step", leave=True)


def train_step(model, opt, batch, cfg: TrainConfig, device, diagnostics: Diagnostics | None = None) -> torch.Tensor:
    """One optimisation step on ``batch = (idx, targets, pad_mask)``: forward (under bf16 autocast
    on CUDA), backward, gradient clipping, optimiser step. Returns the loss, detached and not
    read back (no host sync), so a caller can batch the reads. ``diagnostics`` (optional) sees
    the gradients before the optimiser step and the weights after it."""
    idx, targets, pad_mask = batch
    with autocast(device, cfg.amp):
        _, loss = model(idx, targets, pad_mask=pad_mask)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip) if cfg.grad_clip else None
    if diagnostics is not None:
        diagnostics.before_update(model, batch, loss, norm)
    opt.step()
    if diagnostics is not None:
        diagnostics.after_update(model)
    return loss.detach()


def train(model, batches, config: TrainConfig | None = None, *, callback=None) -> History:
    """Train ``model`` on ``batches``; returns the ``History``. ``callback(history)`` runs every log_every steps."""
    cfg = config or TrainConfig()
    if len(batches) == 0:
        raise ValueError("no batches to train on: the corpus is empty or smaller than one batch")
    device = pick_device(None if cfg.device == "auto" else cfg.device)
    if device.type == "cpu":
        tune_cpu()
    total = cfg.steps or len(batches)
    model.to(device).train()
    opt = make_optimizer(model, cfg, device)
    history = History()
    if cfg.checkpoint and os.path.exists(cfg.checkpoint):
        history = _load(cfg.checkpoint, model, opt)
    # the whole (small) data set lives on the device: no host->device copy per step
    data = [tuple(t.to(device, non_blocking=True) for t in b) for b in batches] if device.type != "cpu" else batches
    n_targets = [int((b[1] != -100).sum()) for b in batches]      # counted once, on the host
    end = total if cfg.stop_after is None else min(total, history.step + cfg.stop_after)
    bar = _progress(total, history.step, cfg.progress)
    diag = Diagnostics(model, cfg.diagnostics_every, history.step) if cfg.diagnostics else None
    pending = []                                   # per-step losses still on the device
    t0 = w0 = time.perf_counter()
    try:
        while history.step < end:
            step = history.step
            lr = lr_at(step, total, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            pending.append(train_step(model, opt, data[step % len(data)], cfg, device, diag))
            history.lrs.append(lr)
            history.tokens += n_targets[step % len(data)]
            history.step += 1
            if history.step % cfg.log_every == 0 or history.step == end:
                n_window = len(pending)
                _flush(pending, history, step)                     # reads the losses back: a device sync
                if diag is not None:
                    diag.flush(history, history.losses[-n_window:])
                history.window_ms.append(1000 * (time.perf_counter() - w0) / n_window)
                if bar is not None:
                    bar.update(history.step - bar.n)
                    bar.set_postfix(loss=f"{history.losses[-1]:.3f}", lr=f"{lr:.1e}")
                if callback is not None:
                    callback(history)
                w0 = time.perf_counter()                           # the next window starts after the callback
            if cfg.checkpoint and cfg.checkpoint_every and history.step % cfg.checkpoint_every == 0:
                _save(cfg.checkpoint, model, opt, history)
    finally:
        history.train_seconds += time.perf_counter() - t0
        if bar is not None:
            bar.close()
    if cfg.checkpoint:
        _save(cfg.checkpoint, model, opt, history)
    return history


def _flush(pending, history, last_step):
    """Read back the losses (one sync), and stop with a message at the first non-finite one."""
    values = torch.stack(pending).float().tolist()
    first = last_step - len(values) + 1
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise TrainingDiverged(f"loss became {v} at step {first + i}: training diverged. "
                                   "Lower the learning rate (e.g. by 3-10x), keep gradient clipping on "
                                   "(grad_clip=1.0), or use a longer warmup.")
    history.losses.extend(values)
    pending.clear()
