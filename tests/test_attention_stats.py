"""Attention statistics on layers whose answer is known by hand: identity projections, one head."""
import math

import pytest
import torch

from minilib.attention import MultiHeadAttention
from minilib.metrics import attention_stats, layer_stats
from minilib.models import GPTConfig, MiniGPT


def identity_layer(causal, **kw):
    """One head, d = 4, q = k = v = x, output = the weighted sum itself."""
    m = MultiHeadAttention(4, 1, causal=causal, **kw).double()
    with torch.no_grad():
        m.in_proj.weight.copy_(torch.cat([torch.eye(4)] * 3))
        m.in_proj.bias.zero_()
        m.out_proj.weight.copy_(torch.eye(4))
        m.out_proj.bias.zero_()
    return m


@pytest.mark.parametrize("causal", [False, True])
def test_stats_equal_hand_computation(causal):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    pad = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    s = layer_stats(identity_layer(causal), x, pad)
    logits, ents, norms = [], [], []
    for b in range(2):
        n = int(pad[b].sum())
        for i in range(n):
            keys = range(i + 1) if causal else range(n)
            sc = torch.tensor([float(x[b, i] @ x[b, j]) / 2 for j in keys], dtype=torch.float64)   # / sqrt(4)
            p = torch.softmax(sc, 0)
            logits += sc.abs().tolist()
            ents.append(float(-(p * p.log()).sum()))
            norms.append(float(sum(p[j] * x[b, j] for j in range(len(p))).norm()))
    assert s["max_logit"] == pytest.approx(max(logits))
    assert s["entropy"] == pytest.approx(sum(ents) / len(ents))
    assert s["output_norm"] == pytest.approx(sum(norms) / len(norms))
    assert s["weight_sum"] == pytest.approx(1.0)


def test_relu_weight_sum_grows_with_the_keys_seen_and_relu_L_does_not():
    x = torch.ones(1, 8, 4, dtype=torch.float64)                 # every score = 4 / 2 = 2
    for normaliser, want in (("relu", [2.0 * (i + 1) for i in range(8)]), ("relu_L", [2.0] * 8)):
        s = layer_stats(identity_layer(True, normaliser=normaliser), x)
        assert s["weight_sum"] == pytest.approx(sum(want) / 8)
        assert s["entropy"] == pytest.approx(sum(math.log(i + 1) for i in range(8)) / 8)   # uniform over seen keys


def test_model_stats_cover_every_layer_and_leave_the_mode_alone():
    m = MiniGPT(GPTConfig(vocab_size=20, block_size=8, n_layer=3, n_head=2, n_embd=16, dropout=0.1)).train()
    idx = torch.randint(0, 20, (2, 8))
    s = attention_stats(m, idx)
    assert len(s["layers"]) == 3 and m.training
    assert s["max_logit"] == max(layer["max_logit"] for layer in s["layers"])
    assert s == attention_stats(m, idx)                                   # eval mode inside: no dropout noise
