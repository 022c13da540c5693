"""Every exercise checker accepts the solution and rejects wrong answers (a checker that cannot fail
teaches nothing)."""
import math
import types

import pytest
import torch

from minilib.attention import masked_softmax
from minilib.data import Tokenizer
from minilib.exercises import dot_vs_additive, masking, qkv_sharing, selection
from minilib.metrics import leak_probe
from minilib.models import GPTConfig, MiniGPT

KEYS = torch.tensor([[0.47, 0.65, 0.60], [0.64, 0.50, -0.59], [-0.03, -0.48, -0.88], [0.43, -0.83, 0.35]],
                    dtype=torch.float64)   # chapter 1's keys (the write-up's)


def test_selection_shared_query(capsys):
    assert selection.check_shared_query(10 * (KEYS[2] + KEYS[3]), KEYS)
    u = torch.linalg.pinv(KEYS[2:]) @ torch.ones(2, dtype=torch.float64)
    assert selection.check_shared_query(100 * u, KEYS)
    assert not selection.check_shared_query(None, KEYS)
    assert not selection.check_shared_query(KEYS[2] + KEYS[3], KEYS)         # too short: not 0.9 together
    assert not selection.check_shared_query(100 * KEYS[2], KEYS)             # selects k2 alone
    assert not selection.check_shared_query([1.0, 2.0], KEYS)                # wrong dimension
    assert "Hint" in capsys.readouterr().out


def reference_softmax(scores, mask):
    s = scores.double()
    e = torch.where(mask, torch.exp(s - s.max(-1, keepdim=True).values), torch.zeros_like(s))
    total = e.sum(-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def test_masked_softmax_checker(capsys):
    assert masking.check_masked_softmax(lambda s, m: masked_softmax(s, m))
    assert masking.check_masked_softmax(reference_softmax)
    assert not masking.check_masked_softmax(lambda s, m: torch.softmax(s.masked_fill(~m, -math.inf), -1))
    assert not masking.check_masked_softmax(lambda s, m: masked_softmax(s, m, "zero"))
    assert not masking.check_masked_softmax(lambda s, m: torch.softmax(s, -1))

    def todo(s, m):
        raise NotImplementedError
    assert not masking.check_masked_softmax(todo)
    assert "Hint" in capsys.readouterr().out
    assert not masking.check_masked_softmax(todo, verbose=False)
    assert capsys.readouterr().out == ""


def sharp(masking_mode):
    torch.manual_seed(0)
    m = MiniGPT(GPTConfig(vocab_size=20, block_size=12, n_layer=1, n_head=2, n_embd=16, masking=masking_mode))
    for b in m.blocks:
        b.attn.scale_qk_(6.0)
    return m.eval()


def test_leak_by_t_checker():
    leaky, honest = sharp("zero"), sharp("-inf")
    honest.load_state_dict(leaky.state_dict())
    idx = torch.randint(0, 20, (4, 12), generator=torch.Generator().manual_seed(1))
    solution = lambda model, idx: [leak_probe(model, idx, t) for t in range(idx.shape[1] - 1)]
    assert masking.check_leak_by_t(solution, leaky, honest, idx)
    assert not masking.check_leak_by_t(None, leaky, honest, idx)
    assert not masking.check_leak_by_t(lambda m, i: solution(m, i)[:-1], leaky, honest, idx)       # one short
    assert not masking.check_leak_by_t(lambda m, i: [0.0] * (i.shape[1] - 1), leaky, honest, idx)  # all zeros
    assert not masking.check_leak_by_t(lambda m, i: 1 / 0, leaky, honest, idx)                     # raises


def test_renormalised_checker():
    solution = lambda s, m: (lambda p: p / p.sum(-1, keepdim=True))(torch.softmax(s, -1).masked_fill(~m, 0))
    assert masking.check_renormalised(solution)
    assert not masking.check_renormalised(None)
    assert not masking.check_renormalised(lambda s, m: torch.softmax(s, -1).masked_fill(~m, 0))   # not renormalised
    assert not masking.check_renormalised(lambda s, m: torch.softmax(s, -1))                       # not masked
    assert masking.check_renormalised(lambda s, m: masked_softmax(s, m))                          # -inf is right too


def fake_run(score, n_layer=2, n_head=2, n_embd=16):
    cfg = GPTConfig(vocab_size=30, block_size=8, n_layer=n_layer, n_head=n_head, n_embd=n_embd, score=score)
    return types.SimpleNamespace(config={"model": cfg.to_dict()}, n_params=MiniGPT(cfg).num_params())


def test_extra_params_checker():
    dot, add = fake_run("dot"), fake_run("additive")

    def solution(cfg):
        d_head = cfg["n_embd"] // cfg["n_head"]
        d_a = cfg["d_additive"] or d_head
        return cfg["n_layer"] * cfg["n_head"] * (2 * d_head * d_a + d_a)
    assert dot_vs_additive.check_extra_params(solution, dot, add)
    assert not dot_vs_additive.check_extra_params(None, dot, add)
    assert not dot_vs_additive.check_extra_params(lambda cfg: add.n_params - dot.n_params, dot, add)  # hard-coded
    assert not dot_vs_additive.check_extra_params(lambda cfg: 2 * solution(cfg), dot, add)


def test_significance_checker_rejects_constant_answers():
    refs = dot_vs_additive._runs({"dot": 4.56, "additive": 4.55}, sd=0.02)
    assert dot_vs_additive.check_significant(dot_vs_additive.significant, refs)
    assert not dot_vs_additive.check_significant(lambda r: False, refs)      # issue 16: this used to pass
    assert not dot_vs_additive.check_significant(lambda r: True, refs)
    assert not dot_vs_additive.check_significant(None, refs)


@pytest.mark.parametrize("qkv", ["shared_qk", "separate"])
def test_self_scores_checker(qkv):
    tok = Tokenizer([f"w{i}" for i in range(20)])
    torch.manual_seed(0)
    model = MiniGPT(GPTConfig(vocab_size=tok.vocab_size, block_size=12, n_layer=1, n_head=2, n_embd=16, qkv=qkv))
    run = types.SimpleNamespace(model=model, tokenizer=tok, probe_tokens=[["w1"], ["w2", "w3", "w4", "w5"]])

    def solution(r):
        from minilib.experiments import probe_ids
        q, k, _ = r.model.qkv(probe_ids(r, 1), layer=0)
        return (q[0, 0] * k[0, 0]).sum(-1)
    if qkv == "shared_qk":
        assert qkv_sharing.check_self_scores(solution, run)
    assert not qkv_sharing.check_self_scores(None, run)
    assert not qkv_sharing.check_self_scores(lambda r: solution(r) + 1, run)                # wrong values
    assert not qkv_sharing.check_self_scores(lambda r: solution(r)[:-1], run)               # wrong shape
    if qkv == "separate":   # correct diagonal but Q != K: not all >= 0 in general; the checker says so
        q, k = qkv_sharing.head_qk(run, 1)
        assert bool((torch.diagonal(q @ k.T) >= 0).all()) == qkv_sharing.check_self_scores(solution, run)


def test_split_merge_checker():
    from minilib.exercises import building

    def split(t, H):
        B, T, C = t.shape
        return t.view(B, T, H, C // H).transpose(1, 2)

    def merge(t):
        B, H, T, d = t.shape
        return t.transpose(1, 2).reshape(B, T, H * d)
    assert building.check_split_merge(split, merge)
    assert not building.check_split_merge(None, merge)
    assert not building.check_split_merge(lambda t, H: t.reshape(t.shape[0], H, t.shape[1], -1), merge)  # mixes tokens
    assert not building.check_split_merge(split, lambda t: t.reshape(t.shape[0], t.shape[2], -1))       # no transpose back
    assert not building.check_split_merge(lambda t, H: t, merge)                                        # wrong shape


def test_cache_mask_checker():
    from minilib.exercises import building
    solution = lambda T, S: torch.arange(S)[None, :] <= torch.arange(T)[:, None] + (S - T)
    assert building.check_cache_mask(solution)
    assert not building.check_cache_mask(None)
    assert not building.check_cache_mask(lambda T, S: torch.ones(T, S, dtype=torch.bool).tril())   # the classic bug
    assert not building.check_cache_mask(lambda T, S: torch.ones(T, S, dtype=torch.bool))         # sees the future
