"""Positions (sinusoidal, rotary), the KV cache and pre/post-LN blocks, against outside references:
Hugging Face GPT-J's rotary code, torch.nn.TransformerEncoderLayer, and the uncached model itself."""
import math

import pytest
import torch

from minilib.attention import KVCache, MultiHeadAttention, apply_rope, sinusoidal_table
from minilib.models import GPTConfig, MiniGPT
from minilib.models.gpt import Block
from minilib.models.hf_weights import to_torch_mha

gptj = pytest.importorskip("transformers.models.gptj.modeling_gptj", reason="transformers (requirements.txt)")


def test_sinusoidal_table_is_the_2017_formula():
    T, d = 50, 16
    table = sinusoidal_table(T, d)
    for pos in (0, 1, 7, 49):
        for i in range(d // 2):
            angle = pos / 10_000 ** (2 * i / d)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_rope_equals_hugging_face_gptj_rotary():
    B, H, T, d = 2, 3, 9, 8
    x = torch.randn(B, H, T, d)
    pos = torch.arange(T)
    sincos = gptj.create_sinusoidal_positions(T, d)[pos][None].expand(B, T, d)     # [B, T, d]
    sin, cos = torch.split(sincos, d // 2, dim=-1)
    theirs = gptj.apply_rotary_pos_emb(x.transpose(1, 2), sin, cos).transpose(1, 2)  # GPT-J: [B, T, H, d]
    torch.testing.assert_close(apply_rope(x, pos), theirs, atol=1e-5, rtol=0)


def test_rope_scores_depend_only_on_the_offset():
    q, k = torch.randn(1, 1, 1, 16, dtype=torch.float64), torch.randn(1, 1, 1, 16, dtype=torch.float64)
    dot = lambda m, n: float(apply_rope(q, torch.tensor([m])) @ apply_rope(k, torch.tensor([n])).transpose(-1, -2))
    for m, n in ((3, 1), (10, 2), (40, 40)):
        for shift in (1, 7, 100):
            assert dot(m, n) == pytest.approx(dot(m + shift, n + shift), abs=1e-4)
    assert abs(dot(5, 1) - dot(1, 5)) > 1e-3                           # but the sign of m - n matters
    x = torch.randn(2, 3, 5, 8)
    torch.testing.assert_close(apply_rope(x, torch.arange(5)).norm(dim=-1), x.norm(dim=-1))   # a rotation


def test_rope_keeps_shared_queries_and_keys_shared():
    mha = MultiHeadAttention(16, 2, qkv="shared_qk", rope=True)
    q, k, v = mha.project(torch.randn(2, 5, 16))
    assert q is k and k is not v


def test_attention_without_positions_is_permutation_equivariant():
    mha = MultiHeadAttention(16, 4, causal=False).double()
    x, perm = torch.randn(2, 7, 16, dtype=torch.float64), torch.randperm(7)
    torch.testing.assert_close(mha(x[:, perm]), mha(x)[:, perm])


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_block_equals_torch_transformer_encoder_layer(norm):
    c = GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=16, norm=norm)
    ours = Block(c).double().eval()
    ref = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=64, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=norm == "pre", dtype=torch.float64).eval()
    ref.self_attn = to_torch_mha(ours.attn)             # the layer's rows of Q, K and V, in torch's layout
    with torch.no_grad():
        ref.linear1.load_state_dict(ours.mlp.fc.state_dict())
        ref.linear2.load_state_dict(ours.mlp.proj.state_dict())
        ref.norm1.load_state_dict(ours.ln1.state_dict())
        ref.norm2.load_state_dict(ours.ln2.state_dict())
    x = torch.randn(2, 8, 16, dtype=torch.float64)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(8, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], ref(x, src_mask=causal, is_causal=True), atol=1e-10, rtol=0)


def small(position="learned", **kw):
    torch.manual_seed(0)
    m = MiniGPT(GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=16, position=position, **kw))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.2 * torch.randn_like(p))                      # away from init: distinct logits
    return m.eval()


@pytest.mark.parametrize("kw", [dict(position="learned"), dict(position="sinusoidal"), dict(position="rope"),
                                dict(position="none"), dict(qkv="shared_qk"), dict(score="additive"),
                                dict(norm="post")])
def test_cached_logits_and_generation_equal_uncached(kw):
    m = small(**kw)
    idx = torch.randint(0, 40, (3, 12), generator=torch.Generator().manual_seed(1))
    full, _ = m(idx)
    cache = KVCache(2)
    first, _ = m(idx[:, :5], cache=cache)
    steps = [m(idx[:, t:t + 1], cache=cache)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat([first, *steps], 1), full, atol=1e-5, rtol=0)
    assert len(cache) == 12 and cache.nbytes() == 2 * 2 * 3 * 2 * 12 * 8 * 4
    prompt = idx[:, :4]
    for temperature, top_k in ((0.0, None), (1.0, 5)):             # greedy, and sampled (same draws)
        a = m.generate(prompt, 20, temperature, top_k, generator=torch.Generator().manual_seed(2))
        b = m.generate(prompt, 20, temperature, top_k, generator=torch.Generator().manual_seed(2), use_cache=False)
        assert torch.equal(a, b) and a.shape == (3, 24)          # 24 > block_size 16: the window slides


def test_cache_refuses_padding_and_positions_past_the_block():
    m = small()
    with pytest.raises(ValueError, match="pass pad_mask=None"):
        m(torch.zeros(1, 3, dtype=torch.long), pad_mask=torch.ones(1, 3, dtype=torch.bool), cache=KVCache(2))
    cache = KVCache(2)
    m(torch.zeros(1, 16, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="exceeds block_size 16"):
        m(torch.zeros(1, 1, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="valid choices are 'learned', 'sinusoidal', 'rope', 'none'"):
        GPTConfig(position="alibi")
    with pytest.raises(ValueError, match="valid choices are 'pre', 'post'"):
        GPTConfig(norm="sandwich")
