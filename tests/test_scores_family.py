"""The score family (similarity x normaliser x vector norm) against references nobody here wrote:
``torch.cdist`` for the distances, ``nn.LayerNorm`` for layer-normalised vectors, float64 formulas
written out key by key, ``gradcheck``; then every variant inside MiniGPT (leak probe exactly 0)
and MiniBERT."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from minilib.attention import (NORMALISERS, SCORES, MultiHeadAttention, attention, causal_mask, keys_seen,
                               key_padding_mask, normalise)
from minilib.attention.learned import TAU_MAX
from minilib.attention.scores import chebyshev_scores, minkowski_scores
from minilib.attention.vector_norms import QKVNorm, l2_normalise, layer_normalise
from minilib.metrics import leak_probe
from minilib.models import BERTConfig, GPTConfig, MiniBERT, MiniGPT

D64 = dict(dtype=torch.float64)
DISTANCES = ("euclidean", "manhattan", "minkowski", "chebyshev")
FAMILY_SCORES = ("dot", "cosine", *DISTANCES)


def qk(T=5, S=6, d=4, H=2, B=2):
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, H, T, d, generator=g, **D64), torch.randn(B, H, S, d, generator=g, **D64)


# ---------------------------------------------------------------- similarities
def test_distances_equal_torch_cdist():
    q, k = qk()
    s = 1 / math.sqrt(q.shape[-1])
    torch.testing.assert_close(SCORES["euclidean"](q, k), -torch.cdist(q, k, p=2) ** 2 * s / 2, atol=1e-12, rtol=0)
    torch.testing.assert_close(SCORES["manhattan"](q, k), -torch.cdist(q, k, p=1) * s, atol=1e-12, rtol=0)
    for p in (1.0, 1.5, 2.0, 3.0, 7.0):
        torch.testing.assert_close(minkowski_scores(q, k, p=p), -torch.cdist(q, k, p=p) * s, atol=1e-10, rtol=0)
    torch.testing.assert_close(chebyshev_scores(q, k), -torch.cdist(q, k, p=math.inf) * s, atol=1e-12, rtol=0)


def test_minkowski_tends_to_chebyshev_and_takes_p_per_head():
    q, k = qk()
    cheb = chebyshev_scores(q, k)
    gaps = [float((minkowski_scores(q, k, p=p) - cheb).abs().max()) for p in (2, 8, 32, 256)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[-1] < 1e-2 * gaps[0]
    assert torch.isfinite(minkowski_scores(q * 1e3, k * 1e3, p=400.0)).all()       # no overflow at large p
    p = torch.tensor([1.0, 3.0], **D64).view(2, 1, 1)                               # one p per head
    per_head = minkowski_scores(q, k, p=p)
    torch.testing.assert_close(per_head[:, 1], minkowski_scores(q[:, 1], k[:, 1], p=3.0))


def test_cosine_scores_are_tau_times_cosine():
    q, k = qk()
    tau = torch.tensor([2.0, 10.0], **D64).view(2, 1, 1)
    ref = torch.empty(2, 2, 5, 6, **D64)
    for b, h, i, j in itertools.product(range(2), range(2), range(5), range(6)):
        ref[b, h, i, j] = tau[h, 0, 0] * F.cosine_similarity(q[b, h, i], k[b, h, j], dim=0)
    s = SCORES["cosine"](q, k, scale=tau)
    torch.testing.assert_close(s, ref, atol=1e-12, rtol=0)
    assert (s.abs() <= tau + 1e-12).all()


@pytest.mark.parametrize("score", FAMILY_SCORES)
def test_similarity_gradcheck(score):
    q, k = (t.requires_grad_() for t in qk(T=3, S=4, d=3, H=2, B=1))
    extra = []
    if score == "cosine":
        extra = [torch.tensor([1.5, 4.0], **D64).view(2, 1, 1).requires_grad_()]
        f = lambda q, k, tau: SCORES[score](q, k, scale=tau)
    elif score == "minkowski":
        extra = [torch.tensor([1.7, 3.2], **D64).view(2, 1, 1).requires_grad_()]
        f = lambda q, k, p: minkowski_scores(q, k, p=p)
    else:
        f = SCORES[score]
    assert torch.autograd.gradcheck(f, (q, k, *extra))


def test_minkowski_gradient_is_finite_where_query_equals_key():
    q = torch.randn(1, 1, 4, 3, **D64, requires_grad=True)
    p = torch.tensor(2.5, **D64, requires_grad=True)
    minkowski_scores(q, q, p=p).sum().backward()                                    # distance 0 on the diagonal
    assert torch.isfinite(q.grad).all() and torch.isfinite(p.grad)


def test_euclidean_softmax_is_dot_softmax_plus_a_key_bias():
    q, k = qk()
    d = q.shape[-1]
    bias = -(k * k).sum(-1).unsqueeze(-2) / (2 * math.sqrt(d))                     # [B, H, 1, S]
    torch.testing.assert_close(torch.softmax(SCORES["euclidean"](q, k), -1),
                               torch.softmax(SCORES["dot"](q, k) + bias, -1), atol=1e-12, rtol=0)


# ---------------------------------------------------------------- normalisers
def hand_weights(scores, allowed, normaliser, alpha=None):
    """Key by key in float64: L counted from the allowed list of each row."""
    out = torch.zeros_like(scores)
    for idx in itertools.product(*(range(n) for n in scores.shape[:-1])):
        keys = [j for j in range(scores.shape[-1]) if allowed[idx][j]]
        L = len(keys)
        for j in keys:
            s = scores[idx][j]
            if normaliser == "softmax":
                out[idx][j] = math.exp(s) / sum(math.exp(scores[idx][l]) for l in keys)
            elif normaliser == "sigmoid":
                out[idx][j] = 1 / (1 + math.exp(-(s - math.log(L))))
            else:
                a = {"relu": 0.0, "relu_L": 1.0, "relu_sqrtL": 0.5}.get(normaliser, alpha)
                out[idx][j] = max(float(s), 0.0) / L ** a
    return out


def masks():
    pad = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    causal = causal_mask(6)
    full = key_padding_mask(pad) & causal                                            # [2, 1, 6, 6]
    rowless = full.clone().expand(2, 2, 6, 6).clone()
    rowless[1, 0, 3] = False                                                         # a query that sees nothing
    return {"causal": causal, "padding": key_padding_mask(pad), "both": full, "empty row": rowless}


@pytest.mark.parametrize("normaliser", NORMALISERS)
def test_normalisers_equal_key_by_key_formula(normaliser):
    scores = torch.randn(2, 2, 6, 6, **D64)
    alpha = 0.3 if normaliser == "relu_Lalpha" else None
    for name, m in masks().items():
        m = m.expand(2, 2, 6, 6)
        got = normalise(scores, m, normaliser, alpha=alpha)
        torch.testing.assert_close(got, hand_weights(scores, m, normaliser, alpha), atol=1e-12, rtol=0, msg=name)


def test_L_counts_the_keys_a_query_may_see_not_T():
    m = masks()
    assert keys_seen(m["causal"], 6).flatten().tolist() == [1, 2, 3, 4, 5, 6]
    assert keys_seen(m["padding"], 6).flatten().tolist() == [6, 4]
    assert keys_seen(m["both"], 6)[1, 0, :, 0].tolist() == [1, 2, 3, 4, 4, 4]
    assert float(keys_seen(None, 6)) == 6
    # relu/L: equal scores of 1 give every allowed key weight 1/L, so every row sums to exactly 1
    w = normalise(torch.ones(2, 1, 6, 6, **D64), m["both"], "relu_L")
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 1, 6, **D64))
    # dividing by T instead of L would make row 0 of the causal mask sum to 1/6
    assert abs(float(w[0, 0, 0, 0]) - 1.0) < 1e-12


@pytest.mark.parametrize("normaliser", NORMALISERS)
def test_normaliser_gradcheck_and_empty_rows(normaliser):
    scores = torch.randn(2, 2, 6, 6, **D64, requires_grad=True)
    m = masks()["empty row"]
    args = (scores,)
    if normaliser == "relu_Lalpha":
        args = (scores, torch.tensor([0.3, 0.8], **D64).view(2, 1, 1).requires_grad_())
        f = lambda s, a: normalise(s, m, normaliser, alpha=a)
    else:
        f = lambda s: normalise(s, m, normaliser)
    assert torch.autograd.gradcheck(f, args)
    w = f(*args)
    assert torch.all(w[1, 0, 3] == 0) and torch.all(w.masked_fill(m, 0) == 0)      # empty row and masked keys: 0
    (g,) = torch.autograd.grad(w.sum(), scores)
    assert torch.isfinite(g).all()


def test_masked_scores_can_be_anything():
    """Masked keys never reach another key's weight: inf or NaN there changes nothing."""
    scores = torch.randn(1, 1, 6, 6, **D64)
    m = masks()["causal"]
    junk = scores.masked_fill(~m, float("nan"))
    for n in NORMALISERS:
        a = normalise(scores, m, n, alpha=0.5)
        b = normalise(junk.masked_fill(~m, 1e9), m, n, alpha=0.5)
        torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- vector norms
def test_vector_norms_equal_references():
    x = torch.randn(2, 3, 5, 8, **D64)
    torch.testing.assert_close(layer_normalise(x), torch.nn.LayerNorm(8, elementwise_affine=False).double()(x))
    torch.testing.assert_close(l2_normalise(x).norm(dim=-1), torch.full((2, 3, 5), math.sqrt(8), **D64))
    torch.testing.assert_close(l2_normalise(x), x / x.norm(dim=-1, keepdim=True) * math.sqrt(8))


@pytest.mark.parametrize("qk_norm,v_norm", [("l2", None), ("layer", "layer"), (None, "l2")])
def test_qkv_norm_gradcheck(qk_norm, v_norm):
    n = QKVNorm(2, qk_norm, v_norm).double()
    if n.gain is not None:
        with torch.no_grad():
            n.gain.copy_(torch.tensor([0.7, 2.0]))
    q, k, v = (torch.randn(1, 2, 4, 3, **D64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lambda q, k, v: n(q, k, v), (q, k, v))


def test_qk_norm_bounds_the_logits_and_lives_in_project():
    mha = MultiHeadAttention(16, 2, qk_norm="l2", v_norm="layer", causal=False)
    x = 100 * torch.randn(2, 5, 16)
    q, k, v = mha.project(x)
    torch.testing.assert_close(q.norm(dim=-1), torch.full((2, 2, 5), math.sqrt(8)))
    assert mha.scores(x).abs().max() <= math.sqrt(8) + 1e-4                        # gain 1: |q.k|/sqrt(d) <= sqrt(d)
    torch.testing.assert_close(v.mean(-1), torch.zeros(2, 2, 5), atol=1e-5, rtol=0)
    assert [n for n, _ in mha.named_parameters() if "norms" in n] == ["norms.gain"]


# ---------------------------------------------------------------- inside the models
VARIANTS = [dict(score=s, normaliser=n) for s in (*FAMILY_SCORES, "additive") for n in NORMALISERS]
VARIANTS += [dict(score="cosine", learn_tau=True, tau=10.0), dict(qk_norm="l2", v_norm="l2", normaliser="relu_Lalpha"),
             dict(qk_norm="layer", v_norm="layer"), dict(qk_norm="layer", qkv="shared_qk", score="minkowski")]
NAME = lambda v: "-".join(f"{x}" for x in v.values())


@pytest.mark.parametrize("variant", VARIANTS, ids=NAME)
def test_every_causal_variant_leaks_nothing_and_trains(variant):
    g = MiniGPT(GPTConfig(vocab_size=20, block_size=12, n_layer=2, n_head=2, n_embd=16, **variant))
    idx = torch.randint(0, 20, (3, 12), generator=torch.Generator().manual_seed(1))
    assert leak_probe(g, idx, t=5) == 0.0
    assert leak_probe(g, idx, t=0) == 0.0
    _, loss = g(idx[:, :-1], idx[:, 1:])
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in g.parameters() if p.grad is not None)


@pytest.mark.parametrize("variant", VARIANTS, ids=NAME)
def test_every_variant_runs_in_minibert_and_ignores_padding(variant):
    m = MiniBERT(BERTConfig(vocab_size=20, block_size=10, n_layer=1, n_head=2, n_embd=16, dropout=0.0, **variant))
    idx = torch.randint(4, 20, (2, 10), generator=torch.Generator().manual_seed(2))
    pad = torch.ones(2, 10, dtype=torch.bool)
    pad[1, 6:] = False
    other = idx.clone()
    other[1, 6:] = 0
    a, loss = m(idx, idx, pad_mask=pad)
    b, _ = m(other, pad_mask=pad)
    torch.testing.assert_close(a[pad], b[pad])
    loss.backward()
    learned = [n for n, p in m.named_parameters() if "learned" in n or "norms" in n]
    assert all(m.get_parameter(n).grad is not None for n in learned)


def test_learned_scalars_are_parameters_in_their_ranges():
    mha = MultiHeadAttention(8, 2, score="cosine", learn_tau=True, tau=10.0, normaliser="relu_Lalpha")
    names = {n for n, _ in mha.named_parameters()}
    assert {"learned.log_tau", "learned.alpha"} <= names
    with torch.no_grad():
        mha.learned.log_tau.fill_(10.0)
    assert float(mha.learned.tau_value().max().detach()) == pytest.approx(TAU_MAX)           # temperature >= 0.01
    assert all(p.dim() == 1 for p in mha.learned.parameters())                      # vectors: never weight-decayed
    mink = MultiHeadAttention(8, 2, score="minkowski")
    with torch.no_grad():
        mink.learned.p_raw.fill_(-50.0)
    assert float(mink.learned.p_value().min().detach()) >= 1.0
    assert float(MultiHeadAttention(8, 2, score="minkowski").learned.p_value()[0].detach()) == pytest.approx(2.0)


@pytest.mark.parametrize("opts", [dict(), dict(qk_norm="layer"), dict(v_norm="l2")])
def test_fast_path_equals_readable_path(opts):
    torch.manual_seed(0)
    fast = MultiHeadAttention(16, 2, fast=True, **opts).double()
    slow = MultiHeadAttention(16, 2, fast=False, **opts).double()
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 7, 16, **D64)
    pad = torch.tensor([[True] * 7, [True] * 5 + [False] * 2])
    torch.testing.assert_close(fast(x, pad_mask=pad), slow(x, pad_mask=pad), atol=1e-12, rtol=0)


def test_bad_choices_name_the_fix():
    q, k = qk()
    with pytest.raises(ValueError, match="valid choices are 'softmax', 'relu'"):
        attention(q, k, k, normaliser="relu6")
    with pytest.raises(ValueError, match="use masking='-inf'"):
        attention(q, k, k, normaliser="relu_L", masking="zero", causal=True)
    with pytest.raises(ValueError, match="use masking='-inf'"):
        GPTConfig(normaliser="sigmoid", masking="zero")
    with pytest.raises(ValueError, match="needs alpha"):
        attention(q, k, k, normaliser="relu_Lalpha")
    with pytest.raises(ValueError, match="use score='cosine'"):
        BERTConfig(score="dot", learn_tau=True)
    with pytest.raises(ValueError, match="valid choices are None, 'l2', 'layer'"):
        BERTConfig(qk_norm="rms")
