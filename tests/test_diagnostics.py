"""Training diagnostics: off by default (no per-step read-back), the gradient norm equals torch's
clip_grad_norm_ total norm, update ratios per layer, and the NaN/overflow detector names the right layer."""
import pytest
import torch

from minilib.data import make_batches
from minilib.models import BERTConfig, GPTConfig, MiniBERT, MiniGPT
from minilib.train import NonFiniteError, TrainConfig, TrainingDiverged, grad_norm, train
from minilib.train.diagnostics import ema, locate_non_finite


def rows(V=40, n=64, T=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, V - 4, (n,), generator=g).tolist()
    return [[1, *[4 + (a + t) % (V - 4) for t in range(T)], 2] for a in starts]


BATCHES = make_batches(rows(), batch_size=16, max_len=12, shuffle=False, bucket=False)


def gpt():
    torch.manual_seed(0)
    return MiniGPT(GPTConfig(vocab_size=40, block_size=12, n_layer=2, n_head=2, n_embd=32))


def test_grad_norm_equals_clip_grad_norm_total_norm():
    m = gpt()
    idx, targets, pad = BATCHES[0]
    m(idx, targets, pad_mask=pad)[1].backward()
    ours = grad_norm(m.parameters())
    theirs = torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=float("inf"))
    assert float(ours) > 0 and float(ours) == pytest.approx(float(theirs), rel=1e-6)


def test_diagnostics_are_recorded_when_on_and_absent_when_off():
    cfg = dict(lr=3e-3, steps=10, warmup=2, device="cpu", progress=False, log_every=4)
    off = train(gpt(), BATCHES, TrainConfig(**cfg))
    assert off.grad_norms == [] and off.update_ratios == [] and off.loss_ema == []
    on = train(gpt(), BATCHES, TrainConfig(**cfg, diagnostics=True, diagnostics_every=3))
    assert on.losses == off.losses                                    # watching changes nothing
    assert len(on.grad_norms) == 10 and all(g > 0 for g in on.grad_norms)
    assert [r["step"] for r in on.update_ratios] == [0, 3, 6, 9]
    layers = [k for k in on.update_ratios[0] if k != "step"]
    assert "blocks.0.attn.in_proj" in layers and "tok_emb" in layers and "pos_emb" in layers
    assert all(0 < r[k] < 1 for r in on.update_ratios for k in layers)
    assert on.loss_ema == pytest.approx(ema(on.losses)[0])
    assert on.loss_ema[0] == pytest.approx(on.losses[0])              # bias-corrected from the first step


def test_the_detector_names_the_layer_with_an_injected_inf():
    m = gpt()
    with torch.no_grad():
        m.blocks[1].mlp.fc.weight[3, 0] = float("inf")
    with pytest.raises(NonFiniteError, match=r"step 0: .* first appears in module 'blocks\.1\.mlp\.fc' \(Linear\)") \
            as e:
        train(m, BATCHES, TrainConfig(steps=5, device="cpu", progress=False, diagnostics=True))
    assert e.value.kind in ("inf", "nan") and isinstance(e.value, TrainingDiverged)
    assert torch.isfinite(m.blocks[0].mlp.fc.weight).all()           # stopped before the optimiser spread it

    torch.manual_seed(0)
    bert = MiniBERT(BERTConfig(vocab_size=40, block_size=13, n_layer=2, n_head=2, n_embd=16, dropout=0.0))
    with torch.no_grad():                                              # huge (but finite) q and k of head 0:
        bert.blocks[1].attn.in_proj.weight[[0, 16]] = 1e30             # their product, a score, overflows
    idx, targets, pad = BATCHES[0]
    assert torch.isfinite(bert.blocks[1].attn.project(bert.layer_input(idx, 1, pad))[0]).all()
    where, kind = locate_non_finite(bert, (idx, targets, pad))
    assert where == "module 'blocks.1.attn' (MultiHeadAttention)" and kind == "nan"   # inf - inf in the softmax


def test_the_detector_names_a_parameter_whose_gradient_overflows():
    m = gpt()
    m.blocks[0].attn.out_proj.weight.register_hook(lambda g: g * float("inf"))
    with pytest.raises(NonFiniteError, match=r"the gradient of parameter 'blocks\.0\.attn\.out_proj\.weight'"):
        train(m, BATCHES, TrainConfig(steps=3, device="cpu", progress=False, diagnostics=True, grad_clip=None))
    with pytest.raises(ValueError, match="diagnostics_every must be >= 1"):
        train(gpt(), BATCHES, TrainConfig(steps=1, device="cpu", progress=False, diagnostics=True,
                                          diagnostics_every=0))


def test_lab_panel_shows_diagnostics_live(monkeypatch):
    import minilib.train
    from minilib.widgets import LabPanel
    drawn = []
    monkeypatch.setattr(minilib.train, "plot_diagnostics", lambda h: drawn.append(len(h.grad_norms)))
    panel = LabPanel("masking", scale="smoke", redraw_seconds=0.0)
    panel.steps.value, panel.diagnostics.value = 12, True
    panel.run(["-inf"])
    assert len(panel.history.grad_norms) == 12 and panel.history.update_ratios
    assert drawn and drawn[0] < 12 and drawn[-1] == 12                # drawn while running, and at the end
