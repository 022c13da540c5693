"""Chapter 4's helpers: the cosine bound against torch.softmax, the exercise checker, the panel."""
import math

import matplotlib
import pytest
import torch

from minilib import beyond_softmax as B
from minilib.exercises.beyond_softmax import check_sigmoid_bias

matplotlib.use("Agg")


@pytest.mark.parametrize("tau,n", [(1.0, 100), (3.0, 7), (0.1, 2)])
def test_cosine_bound_is_the_softmax_of_the_extreme_scores(tau, n):
    extreme = torch.tensor([tau] + [-tau] * (n - 1), dtype=torch.float64)
    assert B.cosine_weight_bound(tau, n) == pytest.approx(float(torch.softmax(extreme, 0)[0]), rel=1e-12)
    assert float(B.best_case_cosine(tau, n)[0]) == pytest.approx(B.cosine_weight_bound(tau, n), rel=1e-9)
    assert B.cosine_weight_bound(B.tau_for_weight(0.8, n), n) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="need 0 < w < 1"):
        B.tau_for_weight(1.0, n)


def test_checker_accepts_the_solution_and_rejects_wrong_answers(capsys):
    assert check_sigmoid_bias(lambda L: -math.log(L - 1))
    assert "Correct" in capsys.readouterr().out
    assert not check_sigmoid_bias(lambda L: -math.log(L))                # close, not exact
    assert "not 1" in capsys.readouterr().out
    assert not check_sigmoid_bias(lambda L: 0.0)
    assert not check_sigmoid_bias(lambda L: float("nan"))
    assert not check_sigmoid_bias(lambda L: 1 / 0)
    assert "raised ZeroDivisionError" in capsys.readouterr().out
    assert not check_sigmoid_bias(None)
    assert "Hint" in capsys.readouterr().out


def test_norm_vs_length_and_panel(monkeypatch):
    c = B.norm_vs_length([8, 32], normaliser="relu", seeds=(0,))
    assert c["weight_sum"][1] > 3 * c["weight_sum"][0]                    # plain ReLU: sum ~ L
    drawn = []
    figure = B.family_figure
    monkeypatch.setattr(B, "family_figure", lambda *a: drawn.append(a) or figure(*a))
    panel, update = B.family_panel()
    assert drawn == [("cosine", "softmax", 1.0, 32)]                      # the default, drawn when built
    panel.children[0].children[1].value = "relu_L"                        # the dropdowns redraw ...
    panel.children[1].children[0].value = 10.0                            # ... and so does the tau slider
    assert drawn[-1] == ("cosine", "relu_L", 10.0, 32) and len(drawn) == 3
