"""The explanation measures on cases whose answers are known (no model needed)."""
import math

import pytest
import torch

from minilib.metrics.attention_heads import dependency_weight, head_entropy, word_attention, word_sum
from minilib.metrics.explanation import chance_hit, kendall_tau, mean_se, paired_verdict, top_k_hit, tvd


def test_kendall_tau_b_known_values():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # the tie-corrected example of scipy.stats.kendalltau's documentation: tau-b = -0.47140452079103173
    assert kendall_tau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]) == pytest.approx(-0.47140452079103173, abs=1e-12)
    # by hand: pairs (1,2)+ (1,3)- (2,3)+ -> (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError, match="lengths"):
        kendall_tau([1, 2], [1, 2, 3])


def test_pointing_at_the_evidence_and_its_chance():
    assert top_k_hit([0.1, 0.7, 0.2], evidence=(1,)) and not top_k_hit([0.1, 0.7, 0.2], evidence=(0, 2))
    assert top_k_hit([0.1, 0.7, 0.2], evidence=(2,), k=2)
    assert chance_hit(10, (3, 7)) == pytest.approx(0.2)                       # 2 of 10 at the top
    assert chance_hit(4, (0, 1), k=2) == pytest.approx(1 - 1 / 6)             # only {2, 3} misses
    g = torch.Generator().manual_seed(0)
    hits = sum(top_k_hit(torch.rand(12, generator=g), (0, 5, 9), k=2) for _ in range(20_000)) / 20_000
    assert hits == pytest.approx(chance_hit(12, (0, 5, 9), k=2), abs=0.01)   # a random ranking hits at chance


def test_tvd_mean_se_and_paired_verdicts():
    assert tvd([1.0, 0.0], [0.0, 1.0]) == 1.0 and tvd([0.3, 0.7], [0.3, 0.7]) == 0.0
    assert tvd([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]]) == 0.5     # mean over rows
    m, se, n = mean_se([1.0, 2.0, 3.0, float("nan")])
    assert (m, n) == (2.0, 3) and se == pytest.approx(1 / math.sqrt(3))
    a = [1.0 + 0.01 * i for i in range(20)]
    assert paired_verdict(a, [x - 0.5 for x in a])["verdict"] == "yes"
    assert paired_verdict(a, [x + 0.5 for x in a])["verdict"] == "no"
    noisy = [(-1) ** i for i in range(20)]
    assert paired_verdict(noisy, [0.0] * 20)["verdict"] == "unclear"


def test_word_pooling_entropy_and_dependency_weights():
    word_ids = [None, 0, 0, 1, 2, None]               # <s> w0 w0 w1 w2 </s>
    assert torch.equal(word_sum(torch.tensor([9.0, 1, 2, 3, 4, 9]), word_ids), torch.tensor([3.0, 3, 4]))
    w = torch.zeros(1, 6, 6)
    w[0, :, 3] = 1.0                                  # every query looks only at w1
    wa = word_attention(w, word_ids)
    assert wa.shape == (1, 3, 3) and torch.equal(wa[0, :, 1], torch.ones(3)) and wa[0, :, [0, 2]].abs().sum() == 0
    dep = dependency_weight(w, word_ids, query_word=2, key_word=1)
    assert dep["weight"].tolist() == [1.0] and dep["uniform"] == pytest.approx(1 / 3)
    assert dependency_weight(w, word_ids, 1, 0, causal=True)["uniform"] == 0.5
    uniform = torch.full((2, 5, 5), 0.2)
    assert torch.allclose(head_entropy(uniform), torch.full((2,), math.log(5)))
    assert torch.allclose(head_entropy(torch.eye(5).expand(2, 5, 5)), torch.zeros(2))


def test_word_units_keep_specials_apart_and_label_every_word():
    from minilib.heads import word_units
    a = {"tokens": ["<s>", "Ġbav", "ok", "Ġtesks", "</s>"], "word_ids": [None, 0, 0, 1, None]}
    unit_ids, labels = word_units(a, ["bavok", "tesks"])
    assert unit_ids == [0, 1, 1, 2, 3] and labels == ["<s>", "bavok", "tesks", "</s>"]
    w = torch.full((1, 5, 5), 0.2)                    # uniform over the 5 tokens
    pooled = word_attention(w, unit_ids)
    assert pooled.shape == (1, 4, 4) and torch.allclose(pooled.sum(-1), torch.ones(1, 4))
    assert pooled[0, 0, 1] == pytest.approx(0.4)      # the word's two pieces summed as a key
