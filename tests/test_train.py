"""The trainer: it learns, it resumes bit-identically, it stops on divergence."""
import math

import pytest
import torch

from minilib.models import GPTConfig, MiniGPT
from minilib.train import TrainConfig, TrainingDiverged, lr_at, tail_mean, train


def copy_task(n=8, T=12, V=20, seed=0):
    """Second half of each row repeats the first half: learnable, but only by attending back."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        half = torch.randint(3, V, (16, T // 2), generator=g)
        row = torch.cat([half, half], 1)
        targets = row[:, 1:].clone()
        targets[:, : T // 2 - 1] = -100
        out.append((row[:, :-1], targets, torch.ones(16, T - 1, dtype=torch.bool)))
    return out


def tiny():
    torch.manual_seed(0)
    return MiniGPT(GPTConfig(vocab_size=20, block_size=11, n_layer=1, n_head=2, n_embd=32))


def test_loss_falls_on_a_learnable_task():
    h = train(tiny(), copy_task(), TrainConfig(lr=3e-3, steps=150, warmup=10, progress=False))
    first, last = sum(h.losses[:10]) / 10, sum(h.losses[-10:]) / 10
    assert first > math.log(17) - 0.3 and last < 0.5 * first
    assert len(h.losses) == 150 and h.step == 150 and h.tokens == 150 * 16 * 6


def test_resume_is_bit_identical(tmp_path):
    data = copy_task()
    cfg = dict(lr=3e-3, steps=30, warmup=5, progress=False, log_every=7)
    full = train(tiny(), data, TrainConfig(**cfg))
    ck = str(tmp_path / "ck.pt")
    part = train(tiny(), data, TrainConfig(checkpoint=ck, stop_after=13, **cfg))
    assert part.step == 13
    resumed = train(tiny(), data, TrainConfig(checkpoint=ck, **cfg))     # a new process would do the same
    assert resumed.step == 30
    assert resumed.losses == full.losses                                   # exact float equality


def test_divergence_stops_with_a_message():
    m = tiny()
    with torch.no_grad():
        m.head.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"at step 0.*Lower the learning rate"):
        train(m, copy_task(), TrainConfig(steps=5, progress=False))


def test_schedule_and_config_errors():
    cfg = TrainConfig(lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, cfg) == pytest.approx(0.1) and lr_at(9, 100, cfg) == pytest.approx(1.0)
    assert lr_at(100, 100, cfg) == pytest.approx(0.1)
    assert lr_at(55, 100, cfg) == pytest.approx(0.55)
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="no batches"):
        train(tiny(), [], TrainConfig(progress=False))


def test_tail_mean_is_the_last_tenth_at_least_one_step():
    losses = [2.0] * 19 + [0.5, 0.7]                                # 21 steps: the last tenth is 2 steps
    assert tail_mean(losses) == pytest.approx(0.6)
    assert tail_mean([3.0, 1.0]) == 1.0 and tail_mean(range(100), fraction=0.05) == pytest.approx(97.0)
    with pytest.raises(ValueError):
        tail_mean([])



def test_tail_mean_at_5_percent_is_the_runs_final_train_loss_definition():
    """final_train_loss has always been the mean of the last len // 20 steps (at least one)."""
    for n in range(1, 400):
        losses = [float(i) for i in range(n)]
        tail = losses[-max(1, n // 20):]
        assert tail_mean(losses, 0.05) == pytest.approx(sum(tail) / len(tail), rel=0, abs=1e-12), n
