"""Learning-rate schedules against transformers' own, step by step; the loop's TrainConfig selects them;
the range test runs on MiniGPT and MiniBERT and leaves their weights as they were."""
import math

import pytest
import torch

from minilib.data import MLMBatches, Tokenizer, make_batches
from minilib.models import BERTConfig, GPTConfig, MiniBERT, MiniGPT
from minilib.train import (SCHEDULES, TrainConfig, lr_at, lr_range_test, schedule_factor, train,
                           transformers_rates, warmup_steps)

pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")

LR = 3e-4
CASES = [  # (name, floor, power): floor 0 checks transformers' plain cosine / linear schedules, floor > 0 their
    ("cosine", 0.0, 1.0), ("cosine", 0.1, 1.0),          # min-lr cosine and polynomial decay (see schedules.py)
    ("linear", 0.0, 1.0), ("linear", 0.05, 1.0),
    ("polynomial", 0.0, 2.0), ("polynomial", 0.1, 0.5), ("constant", 0.0, 1.0),
]


@pytest.mark.parametrize("name,floor,power", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
@pytest.mark.parametrize("total,warmup", [(100, 0.1), (37, 5), (50, 0)])
def test_each_schedule_equals_transformers_step_by_step(name, floor, power, total, warmup):
    warm = warmup_steps(warmup, total)
    theirs = transformers_rates(name, total, warm, floor, power, lr=LR)
    ours = [LR * schedule_factor(name, s, total, warm, floor, power) for s in range(total + 1)]
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-18)
    if name != "constant":
        assert ours[-1] == pytest.approx(LR * floor, abs=1e-18)                 # ends on the floor


def test_the_loop_selects_a_schedule_and_keeps_its_default():
    # the loop's warmup is one step ahead of transformers' (its first update is not at rate 0); after it, the same
    for name in SCHEDULES:
        cfg = TrainConfig(lr=LR, warmup=0.1, min_lr_ratio=0.2, schedule=name, lr_power=2.0)
        assert [lr_at(s, 200, cfg) for s in range(20)] == pytest.approx([LR * (s + 1) / 20 for s in range(20)])
        assert [lr_at(s, 200, cfg) for s in range(20, 201)] == pytest.approx(
            [LR * schedule_factor(name, s, 200, 20, 0.2, 2.0) for s in range(20, 201)], rel=1e-15)
    default = TrainConfig(lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert default.schedule == "cosine" and lr_at(55, 100, default) == pytest.approx(0.55)
    assert warmup_steps(0.05, 1000) == 50 and warmup_steps(50, 1000) == 50
    lin = TrainConfig(lr=1.0, warmup=0, min_lr_ratio=0.0, schedule="linear")
    assert lr_at(50, 100, lin) == pytest.approx(0.5) and lr_at(100, 100, lin) == 0.0
    with pytest.raises(ValueError, match="unknown schedule 'step'; valid choices are 'cosine', 'linear'"):
        TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        warmup_steps(-1, 10)
    with pytest.raises(ValueError, match=r"floor \(min_lr_ratio\) must be in \[0, 1\]"):
        schedule_factor("cosine", 50, 100, 0, floor=1.5)


def counting_rows(V=40, n=128, T=10, seed=0):
    """Each row counts up from a random start (mod V - 4): every token is predictable from its neighbour."""
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, V - 4, (n,), generator=g).tolist()
    return [[1, *[4 + (a + t) % (V - 4) for t in range(T)], 2] for a in starts]


def test_range_test_on_minigpt_and_minibert_leaves_the_weights_unchanged():
    torch.manual_seed(0)
    gpt_batches = make_batches(counting_rows(), batch_size=16, max_len=12, shuffle=False, bucket=False)
    gpt = MiniGPT(GPTConfig(vocab_size=40, block_size=12, n_layer=1, n_head=2, n_embd=32))
    tok = Tokenizer([f"w{i}" for i in range(36)]).with_mask()
    bert_batches = MLMBatches(gpt_batches, tokenizer=tok, mask_id=tok.mask_id, vocab_size=tok.vocab_size, epochs=4)
    bert = MiniBERT(BERTConfig(vocab_size=tok.vocab_size, block_size=13, n_layer=1, n_head=2, n_embd=32))
    for model, batches in ((gpt, gpt_batches), (bert, bert_batches)):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        model.eval()
        rng = torch.get_rng_state()
        rt = lr_range_test(model, batches, lr_min=1e-4, lr_max=3.0, steps=60, device="cpu")
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        assert not model.training and torch.equal(torch.get_rng_state(), rng)
        assert rt.lrs[0] == pytest.approx(1e-4) and all(b > a for a, b in zip(rt.lrs, rt.lrs[1:]))
        assert rt.stopped_early or rt.lrs[-1] == pytest.approx(3.0)
        lowest = min(rt.smoothed)
        assert lowest < rt.smoothed[0] - 0.05                         # the loss fell somewhere along the ramp
        assert max(rt.losses[rt.smoothed.index(lowest):]) > lowest + 1.0    # ... and rose again at large rates
        assert 1e-4 <= rt.steepest_lr <= rt.min_loss_lr and rt.suggested_lr == rt.min_loss_lr / 10
    with pytest.raises(ValueError, match="0 < lr_min < lr_max"):
        lr_range_test(gpt, gpt_batches, lr_min=1.0, lr_max=0.1)


def test_the_loop_trains_with_the_chosen_schedule():
    batches = make_batches(counting_rows(), batch_size=16, max_len=12, shuffle=False, bucket=False)
    torch.manual_seed(0)
    m = MiniGPT(GPTConfig(vocab_size=40, block_size=12, n_layer=1, n_head=2, n_embd=32))
    h = train(m, batches, TrainConfig(lr=1e-2, steps=40, warmup=0.1, schedule="polynomial", lr_power=2.0,
                                      min_lr_ratio=0.0, device="cpu", progress=False))
    assert h.lrs[4:] == pytest.approx([1e-2 * schedule_factor("polynomial", s, 40, 4, 0.0, 2.0) for s in range(4, 40)])
    assert sum(h.losses[-5:]) < sum(h.losses[:5]) - 5 * math.log(2)
