"""minilib.pitfalls against independent references: MiniGPT itself, hand-written float64 softmaxes, explicit loops."""
import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from minilib import pitfalls, viz, widgets  # noqa: E402
from minilib.models import GPTConfig, MiniGPT  # noqa: E402

V = 16


def small_gpt(**kw):
    return MiniGPT(GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16, **kw))


def reference_softmax(scores, mask):
    """Masked softmax written out in float64 with exp and sums; fully masked rows give zeros."""
    s = scores.double()
    e = torch.where(mask, torch.exp(s - s.max(-1, keepdim=True).values), torch.zeros_like(s))
    total = e.sum(-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def test_padded_gpt_equals_minigpt_without_padding_and_with_right_padding():
    gpt = small_gpt()
    padded = pitfalls.variant_model(gpt, "-inf")
    idx = torch.randint(0, V, (3, 10))
    with torch.no_grad():
        torch.testing.assert_close(padded(idx)[0], gpt(idx)[0], rtol=0, atol=1e-6)
        pad = torch.arange(10)[None] < torch.tensor([[10], [7], [4]])     # right padding: same positions
        a, b = padded(idx, pad_mask=pad)[0], gpt(idx, pad_mask=pad)[0]
    torch.testing.assert_close(a[pad], b[pad], rtol=0, atol=1e-6)


def test_variants_set_masking_and_pad_handling():
    gpt = small_gpt()
    assert pitfalls.variant_model(gpt, "zero").blocks[0].attn.masking == "zero"
    bug = pitfalls.variant_model(gpt, "embedding bug", causal=False)
    assert bug.pad_in == "embeddings" and bug.blocks[0].attn.masking == "-inf" and not bug.blocks[1].attn.causal
    with pytest.raises(ValueError, match="valid choices"):
        pitfalls.variant_model(gpt, "nope")
    with pytest.raises(ValueError, match="valid choices"):
        pitfalls.PaddedGPT(gpt.config, pad_in="keys")


def test_left_padding_positions_count_from_first_real_token():
    gpt = small_gpt()
    model = pitfalls.variant_model(gpt, "-inf")
    real = torch.randint(0, V, (1, 6))
    padded = torch.cat([torch.randint(0, V, (1, 3)), real], 1)
    pad = torch.arange(9)[None] >= 3
    with torch.no_grad():
        torch.testing.assert_close(model(padded, pad_mask=pad)[0][:, 3:], gpt(real)[0], rtol=0, atol=1e-6)


def test_embedding_bug_weights_on_padding_keys():
    """The bug gives padding keys weight; at init (zero biases) a padding key scores exactly 0."""
    gpt = small_gpt()
    idx = torch.randint(0, V, (1, 8))
    pad = torch.arange(8)[None] < 5
    w_bug = pitfalls.variant_model(gpt, "embedding bug", causal=False).attention_weights(idx, pad)[0]
    w_fix = pitfalls.variant_model(gpt, "-inf", causal=False).attention_weights(idx, pad)[0]
    assert (w_bug[0, :, :5, 5:] > 0).all()
    assert (w_fix[0, :, :5, 5:] == 0).all()


@pytest.mark.parametrize("causal,side", [(True, "left"), (True, "right"), (False, "right"), (False, "left")])
def test_mask_probe_zero_for_correct_masking_and_positive_for_the_bugs(causal, side):
    gpt = small_gpt()
    idx = torch.randint(0, V, (2, 10))
    pad = torch.arange(10)[None] >= torch.tensor([[3], [0]]) if side == "left" else \
        torch.arange(10)[None] < torch.tensor([[7], [10]])
    probes = {v: pitfalls.mask_probe(pitfalls.variant_model(gpt, v, causal=causal), idx, pad, t=6)
              for v in pitfalls.VARIANTS}
    assert probes["-inf"] < 1e-6
    assert probes["zero"] > 1e-5
    if causal and side == "right":
        assert probes["embedding bug"] < 1e-6    # padding is in every real token's future: the causal mask hides it
    else:
        assert probes["embedding bug"] > 1e-5


def test_mask_probe_rejects_padding_in_the_middle():
    gpt = pitfalls.variant_model(small_gpt(), "-inf")
    pad = torch.tensor([[True, False, True, True]])
    with pytest.raises(ValueError, match="one end"):
        pitfalls.mask_probe(gpt, torch.zeros(1, 4, dtype=torch.long), pad)


def test_fill_softmax_float32_matches_reference_and_spellings_agree():
    scores = torch.randn(4, 5, dtype=torch.float64) * 3
    mask = torch.rand(4, 5) < 0.6
    mask[:, 0] = True
    ref = reference_softmax(scores, mask)
    for how in pitfalls.FILL_HOWS:
        w = pitfalls.fill_softmax(scores, mask, torch.finfo(torch.float32).min, torch.float32, how)
        assert w.dtype == torch.float32
        torch.testing.assert_close(w.double(), ref, rtol=0, atol=1e-6)


def test_fill_table_findings():
    scores = torch.tensor([[0.0, 0.5, 9997.0, 3.0], [-20.0, -30.0, -40.0, -25.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    fills = {"-1e4": -1e4, "-1e9": -1e9, "min": lambda dt: torch.finfo(dt).min}
    rows = pitfalls.fill_table(scores, mask, fills, (torch.float32, torch.float16))
    by = {(r["how"], r["fill"], r["dtype"]): r for r in rows}
    # float32, added -1e4: the masked key's score becomes -3; weight from the float64 formula
    e = [1.0, math.exp(0.5), math.exp(-3.0), math.exp(3.0 - 1e4)]
    assert by["add", "-1e4", "float32"]["leak"] == pytest.approx(e[2] / sum(e), rel=1e-4)
    assert "error" in by["replace", "-1e9", "float16"]
    assert by["add", "-1e9", "float16"]["fully_masked_rows"] == "NaN"
    assert by["add", "min", "float16"]["fully_masked_rows"] == "NaN"
    assert by["replace", "min", "float16"]["leak"] == 0.0
    assert by["replace", "min", "float16"]["fully_masked_rows"] == "finite"


def test_fill_report_on_hand_made_weights():
    mask = torch.tensor([[True, False], [False, False]])
    w = torch.tensor([[0.75, 0.25], [float("nan"), float("nan")]])
    assert pitfalls.fill_report(w, mask) == {"leak": 0.25, "nan_in_partial_rows": False, "fully_masked_rows": "NaN"}


def test_figure_and_panel_build():
    gpt = small_gpt()
    idx = torch.randint(0, V, (1, 8))
    pad = torch.arange(8)[None] >= 2
    views = pitfalls.variant_views(gpt, idx, pad, t=5)
    assert set(views) == set(pitfalls.VARIANTS) and views["-inf"]["probe"] == 0.0
    assert views["-inf"]["weights"][0].shape == (8, 8)
    fig = viz.variant_figure(views, pad[0])
    assert len([a for a in fig.axes if a.images]) == 3                # three heatmaps (2 x 2 grid, one blank)
    panel, update = widgets.masking_panel({"init": views}, pad[0])
    update()
    panel.children[0].children[0].value = "zero"                      # the toggle redraws without error
    panel.children[1].children[1].value = 1                           # so does the layer dropdown
