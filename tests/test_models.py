"""MiniGPT: shapes, the leak probe, padding, errors, generation."""
import pytest
import torch

from minilib.metrics import leak_probe
from minilib.models import GPTConfig, MiniGPT


def model(**kw):
    cfg = dict(vocab_size=40, block_size=12, n_layer=2, n_head=2, n_embd=16)
    cfg.update(kw)
    m = MiniGPT(GPTConfig(**cfg))
    with torch.no_grad():                        # sharper attention than at init, so a leak is visible
        for blk in m.blocks:
            blk.attn.in_proj.weight.mul_(25)
    return m.eval()


@pytest.mark.parametrize("score", ["dot", "additive"])
def test_leak_probe_separates_maskings(score):
    idx = torch.randint(0, 40, (4, 12))
    assert leak_probe(model(score=score, masking="-inf"), idx, 5) < 1e-6
    assert leak_probe(model(score=score, masking="zero"), idx, 5) > 1e-3
    per_layer = leak_probe(model(score=score, masking="zero"), idx, 5, per_layer=True)
    assert len(per_layer) == 2 and min(per_layer) > 1e-4
    assert max(leak_probe(model(score=score), idx, 5, per_layer=True)) < 1e-6


def test_shapes_loss_and_attention_weights():
    m = model()
    idx = torch.randint(0, 40, (3, 10))
    logits, loss = m(idx, idx)
    assert logits.shape == (3, 10, 40) and loss.ndim == 0
    ws = m.attention_weights(idx)
    assert len(ws) == 2 and all(w.shape == (3, 2, 10, 10) for w in ws)
    assert torch.allclose(ws[0].sum(-1), torch.ones(3, 2, 10))
    assert torch.all(ws[0].triu(1) == 0)
    assert MiniGPT(GPTConfig()).num_params() == 1_443_840   # the paper-scale config (~1.41M in the write-up)


def test_loss_ignores_padding_and_padding_content_does_not_matter():
    m = model()
    idx = torch.randint(1, 40, (2, 8))
    pad = torch.ones(2, 8, dtype=torch.bool)
    pad[1, 5:] = False
    targets = idx.clone()
    targets[1, 5:] = -100
    other = idx.clone()
    other[1, 5:] = 0
    la, a = m(idx, targets, pad_mask=pad)
    lb, b = m(other, targets, pad_mask=pad)
    assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(la[pad], lb[pad], atol=1e-5)


def test_generate_and_errors():
    m = model()
    out = m.generate(torch.zeros(2, 1, dtype=torch.long), 5, top_k=5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 6)
    with pytest.raises(ValueError, match="exceeds block_size 12"):
        m(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match="valid choices are '-inf', 'zero'"):
        GPTConfig(masking="0")
    with pytest.raises(ValueError, match="valid choices"):
        GPTConfig(score="mul")
