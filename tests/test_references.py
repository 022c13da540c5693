"""minilib against references nobody here wrote (minGPT's style): Hugging Face GPT-2 and
``torch.nn.MultiheadAttention`` with the same weights copied in; and what the Q/K/V modes
really hand to ``attention()``, read off the call itself."""
import types

import pytest
import torch

from minilib.attention import MultiHeadAttention, causal_mask, multihead
from minilib.data import Tokenizer
from minilib.experiments import head_qk
from minilib.models import GPTConfig, MiniGPT
from minilib.models.hf_weights import to_hf_gpt2, to_torch_mha

transformers = pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")

QKV = ("separate", "shared_qk", "shared_qkv")


def trained_looking(m):
    """Weights further from init than GPT-2's 0.02, so a mismatch cannot hide in small numbers."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return m.eval()


@pytest.mark.parametrize("fast", [True, False])
def test_minigpt_logits_equal_hugging_face_gpt2(fast):
    m = trained_looking(MiniGPT(GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=4, n_embd=32, fast=fast)))
    hf = to_hf_gpt2(m)
    idx = torch.randint(0, 50, (3, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, _ = m(idx)
        theirs = hf(idx).logits
    assert ours.abs().max() > 1                                      # not a comparison of near-zeros
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    # right padding: real positions agree (padding keys masked on both sides)
    pad = torch.ones(3, 16, dtype=torch.bool)
    pad[1, 9:], pad[2, 4:] = False, False
    with torch.no_grad():
        ours, _ = m(idx, pad_mask=pad)
        theirs = hf(idx, attention_mask=pad.long()).logits
    torch.testing.assert_close(ours[pad], theirs[pad], atol=1e-5, rtol=0)


@pytest.mark.parametrize("qkv", QKV)
@pytest.mark.parametrize("fast", [True, False])
def test_multihead_attention_equals_torch_nn_multiheadattention(qkv, fast):
    mha = MultiHeadAttention(24, 4, qkv=qkv, causal=True, fast=fast).double().eval()
    ref = to_torch_mha(mha)
    x = torch.randn(3, 7, 24, dtype=torch.float64)
    pad = torch.ones(3, 7, dtype=torch.bool)
    pad[1, 5:], pad[2, 2:] = False, False                           # right padding
    ours = mha(x, pad_mask=pad)
    theirs, _ = ref(x, x, x, attn_mask=~causal_mask(7), key_padding_mask=~pad, need_weights=False)
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)
    # and without the causal mask (an encoder)
    mha.causal = False
    theirs, _ = ref(x, x, x, key_padding_mask=~pad, need_weights=False)
    torch.testing.assert_close(mha(x, pad_mask=pad), theirs, atol=1e-12, rtol=0)


@pytest.mark.parametrize("kw", [dict(score="additive"), dict(normaliser="sigmoid"), dict(qk_norm="layer"),
                                dict(rope=True)])
def test_torch_multiheadattention_twin_is_refused_where_it_would_differ(kw):
    with pytest.raises(ValueError, match="no twin"):
        to_torch_mha(MultiHeadAttention(8, 2, **kw))


@pytest.mark.parametrize("qkv, same", [("separate", (False, False)), ("shared_qk", (True, False)),
                                       ("shared_qkv", (True, True))])
def test_what_attention_receives_for_each_qkv_mode(qkv, same, monkeypatch):
    """A spy on the call: which of q, k, v are the very same tensor."""
    seen = {}
    real = multihead.attention

    def spy(q, k, v, **kw):
        seen.update(q=q, k=k, v=v)
        return real(q, k, v, **kw)
    monkeypatch.setattr(multihead, "attention", spy)
    MultiHeadAttention(8, 2, qkv=qkv)(torch.randn(2, 5, 8))
    assert (seen["q"] is seen["k"], seen["k"] is seen["v"]) == same
    assert seen["v"] is not seen["q"] or qkv == "shared_qkv"


@pytest.mark.parametrize("qkv", QKV)
def test_head_qk_reproduces_the_models_attention_weights(qkv):
    torch.manual_seed(0)
    m = trained_looking(MiniGPT(GPTConfig(vocab_size=30, block_size=12, n_layer=2, n_head=2, n_embd=16, qkv=qkv)))
    tok = Tokenizer([f"w{i}" for i in range(26)])
    probe = [f"w{i}" for i in (3, 1, 4, 1, 5, 9, 2, 6)]
    run = types.SimpleNamespace(model=m, tokenizer=tok, probe_tokens=[probe])
    ids = torch.tensor([tok.encode(probe, add_special=True)[:-1]])
    weights = m.attention_weights(ids)
    for layer in range(2):
        for head in range(2):
            q, k = head_qk(run, 0, layer, head)
            assert (q.data_ptr() == k.data_ptr()) == (qkv != "separate")
            s = (q @ k.T / q.shape[-1] ** 0.5).masked_fill(~causal_mask(len(q)), float("-inf"))
            torch.testing.assert_close(torch.softmax(s, -1), weights[layer][0, head], atol=1e-6, rtol=0)


def test_scale_qk_multiplies_every_score_by_c_squared():
    for qkv in ("separate", "shared_qk"):
        mha = MultiHeadAttention(8, 2, qkv=qkv).double()
        x = torch.randn(1, 5, 8, dtype=torch.float64)
        q0, k0, v0 = mha.project(x)
        q1, k1, v1 = mha.scale_qk_(3.0).project(x)
        torch.testing.assert_close(q1 @ k1.transpose(-1, -2), 9 * q0 @ k0.transpose(-1, -2))
        torch.testing.assert_close(v1, v0)
    with pytest.raises(ValueError, match="scale the values too"):
        MultiHeadAttention(8, 2, qkv="shared_qkv").scale_qk_(2.0)


def test_torch_multiheadattention_twin_is_frozen_like_its_source():
    mha = MultiHeadAttention(8, 2)
    assert all(p.requires_grad for p in to_torch_mha(mha).parameters())
    mha.requires_grad_(False)
    assert not any(p.requires_grad for p in to_torch_mha(mha).parameters())
