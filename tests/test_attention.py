"""attention(), masks and scores against independent references: SDPA, a float64 hand formula, gradcheck."""
import math

import pytest
import torch
import torch.nn.functional as F

from minilib.attention import MultiHeadAttention, attention
from minilib.attention import causal_mask, masked_softmax
from minilib.attention import additive_scores, additive_scores_reference

D64 = dict(dtype=torch.float64)


def hand_attention(q, k, v, mask=None):
    """Softmax attention written out with exp and sums, in float64."""
    s = torch.einsum("...td,...sd->...ts", q, k) / math.sqrt(q.shape[-1])
    if mask is not None:
        s = s.masked_fill(~mask, -math.inf)
    e = torch.exp(s - s.max(-1, keepdim=True).values)
    return torch.einsum("...ts,...sd->...td", e / e.sum(-1, keepdim=True), v)


def qkv(B=2, H=3, T=7, S=7, d=5, **kw):
    return (torch.randn(B, H, T, d, **kw), torch.randn(B, H, S, d, **kw), torch.randn(B, H, S, d, **kw))


@pytest.mark.parametrize("causal", [False, True])
def test_dot_equals_sdpa_and_hand_formula(causal):
    q, k, v = qkv(**D64)
    mask = causal_mask(7) if causal else None
    fast = attention(q, k, v, causal=causal)                       # SDPA path
    readable, w = attention(q, k, v, causal=causal, return_weights=True)
    ref_sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    ref_hand = hand_attention(q, k, v, mask)
    for out in (fast, readable):
        torch.testing.assert_close(out, ref_sdpa, atol=1e-10, rtol=0)
        torch.testing.assert_close(out, ref_hand, atol=1e-10, rtol=0)
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)), atol=1e-12, rtol=0)


def test_padding_mask_matches_hand_formula():
    q, k, v = qkv(**D64)
    pad = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])[:, None, None, :]
    mask = pad & causal_mask(7)
    torch.testing.assert_close(attention(q, k, v, mask=pad, causal=True), hand_attention(q, k, v, mask), atol=1e-10, rtol=0)


def test_cross_attention_causal_offset():
    q, k, v = qkv(T=3, S=7, **D64)                    # the last 3 of 7 positions
    out = attention(q, k, v, causal=True)
    ref = hand_attention(q, k, v, causal_mask(3, 7))
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=0)
    assert causal_mask(3, 7)[0].tolist() == [True] * 5 + [False] * 2


def test_chunked_additive_equals_unchunked_formula():
    q, k, _ = qkv(T=9, S=9, **D64)
    w = dict(w_q=torch.randn(3, 5, 4, **D64), w_k=torch.randn(3, 5, 4, **D64), w2=torch.randn(3, 4, **D64))
    ref = additive_scores_reference(q, k, **w)
    for chunk in (1, 2, 4, 9, None):
        torch.testing.assert_close(additive_scores(q, k, chunk=chunk, **w), ref, atol=1e-12, rtol=0)
    # causal skipping leaves the future at 0 and the past exact
    c = additive_scores(q, k, chunk=2, causal=True, **w)
    keep = causal_mask(9)
    torch.testing.assert_close(c[..., keep], ref[..., keep], atol=1e-12, rtol=0)


@pytest.mark.parametrize("causal", [False, True])
def test_additive_gradcheck(causal):
    q, k, _ = qkv(B=1, H=2, T=5, S=5, d=3, **D64)
    w_q, w_k, w2 = torch.randn(2, 3, 4, **D64), torch.randn(2, 3, 4, **D64), torch.randn(2, 4, **D64)
    args = [t.requires_grad_() for t in (q, k, w_q, w_k, w2)]
    keep = causal_mask(5)

    def f(q, k, w_q, w_k, w2):
        s = additive_scores(q, k, w_q=w_q, w_k=w_k, w2=w2, chunk=2, causal=causal)
        return s.masked_fill(~keep, 0.0) if causal else s
    assert torch.autograd.gradcheck(f, args)


@pytest.mark.parametrize("score", ["dot", "additive"])
@pytest.mark.parametrize("qkv_mode", ["separate", "shared_qk", "shared_qkv"])
@pytest.mark.parametrize("masking", ["-inf", "zero"])
def test_mha_gradcheck(score, qkv_mode, masking):
    mha = MultiHeadAttention(8, 2, score=score, qkv=qkv_mode, masking=masking).double()
    x = torch.randn(2, 4, 8, **D64, requires_grad=True)
    pad = torch.tensor([[True] * 4, [True, True, True, False]])
    assert torch.autograd.gradcheck(lambda x: mha(x, pad_mask=pad), (x,))


def test_fully_masked_rows_give_zeros_and_finite_grads():
    q, k, v = (t.requires_grad_() for t in qkv(**D64))
    mask = torch.ones(7, 7, dtype=torch.bool)
    mask[2] = False                                   # query 2 may see nothing
    for kw in (dict(), dict(return_weights=True), dict(score="additive", w_q=torch.randn(3, 5, 4, **D64),
                                                        w_k=torch.randn(3, 5, 4, **D64), w2=torch.randn(3, 4, **D64))):
        res = attention(q, k, v, mask=mask, **kw)
        out = res[0] if isinstance(res, tuple) else res
        assert torch.all(out[..., 2, :] == 0)
        assert torch.isfinite(out).all()
        (g,) = torch.autograd.grad(out.sum(), q)
        assert torch.isfinite(g).all()
        assert torch.all(g[..., 2, :] == 0)
    # the naive -inf softmax really does give NaN here: what we protect against
    s = torch.randn(7, 7).masked_fill(~mask, -math.inf)
    assert torch.isnan(torch.softmax(s, -1)[2]).all()
    assert torch.all(masked_softmax(torch.randn(7, 7), mask)[2] == 0)


def test_zero_masking_rows_do_not_sum_to_one():
    s = torch.randn(6, 6, **D64)
    w = masked_softmax(s, causal_mask(6), "zero")
    assert torch.all(w.sum(-1)[:-1] < 1 - 1e-6)                 # mass lost to the future ...
    full = torch.softmax(s, -1)
    torch.testing.assert_close(w[causal_mask(6)], full[causal_mask(6)])   # ... kept weights are the unmasked ones


def test_bad_input_errors_name_the_fix():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="valid choices are 'dot', 'additive'"):
        attention(q, k, v, score="dott")
    with pytest.raises(ValueError, match="valid choices are '-inf', 'zero'"):
        attention(q, k, v, masking="none")
    with pytest.raises(ValueError, match="must be a bool tensor"):
        attention(q, k, v, mask=torch.ones(7, 7))
    with pytest.raises(ValueError, match="does not broadcast"):
        attention(q, k, v, mask=torch.ones(7, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="shapes do not fit"):
        attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="valid choices are 'separate', 'shared_qk', 'shared_qkv'"):
        MultiHeadAttention(8, 2, qkv="shared")
    with pytest.raises(ValueError, match="pad_mask must be a bool tensor of shape"):
        MultiHeadAttention(8, 2)(torch.randn(2, 4, 8), pad_mask=torch.ones(2, 5, dtype=torch.bool))
