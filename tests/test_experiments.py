"""Experiments end to end at smoke scale, results round trip, tables, the lab panel."""
import math

import pytest
import torch

from minilib import experiments as E
from minilib.metrics import evaluate, prefix_loss
from minilib.models import GPTConfig, MiniGPT
from minilib.results import RunResult, compare, load_references, published_table, spread


@pytest.fixture(scope="module")
def dot_run():
    return E.run("dot_vs_additive", "dot", scale="smoke", progress=False)


@pytest.mark.parametrize("experiment,variant", [(e, v) for e in E.EXPERIMENTS for v in E.EXPERIMENTS[e]
                                                if (e, v) != ("dot_vs_additive", "dot")])
def test_every_variant_runs_at_smoke_scale(experiment, variant):
    r = E.run(experiment, variant, scale="smoke", progress=False)
    assert r.steps == len(r.losses) > 10 and all(map(math.isfinite, r.losses))
    assert r.config["model"][{"dot_vs_additive": "score", "qkv_sharing": "qkv", "masking": "masking"}[experiment]] == variant
    assert len(r.samples) == 5 and len(r.probes) == 4 and 0 <= r.grammatical_rate <= 1
    assert (r.leak > 1e-6) if variant == "zero" else (r.leak == 0.0)


def test_run_result_fields_and_round_trip(dot_run, tmp_path):
    r = dot_run
    assert r.losses[-1] < r.losses[0] - 0.5                       # it learns
    assert r.dev_loss > r.entropy_floor                           # an honest model stays above the floor
    assert math.isclose(r.dev_ppl, math.exp(r.dev_loss))
    assert r.provenance["torch"] == torch.__version__ and r.provenance["commit"]
    back = RunResult.load(r.save(tmp_path / "r.json"))
    assert back.losses == r.losses and back.config == r.config and back.dev_loss == r.dev_loss
    table = compare([r, back])
    assert "dev loss" in table._repr_html_() and len(str(table).splitlines()) == 3


def test_same_seed_same_run(dot_run):
    again = E.run("dot_vs_additive", "dot", scale="smoke", progress=False)
    assert again.losses == dot_run.losses and again.dev_loss == dot_run.dev_loss


def test_settings_errors_name_the_fix():
    with pytest.raises(ValueError, match="valid choices are 'dot_vs_additive'"):
        E.run("dot_vs_add", "dot", scale="smoke")
    with pytest.raises(ValueError, match="valid choices are 'dot', 'additive'"):
        E.settings("dot_vs_additive", "mul", "smoke")
    with pytest.raises(ValueError, match="unknown setting"):
        E.settings("dot_vs_additive", "dot", "smoke", learning_rate=1e-3)
    with pytest.raises(ValueError, match="valid choices are 'smoke', 'cpu', 'paper'"):
        E.settings("dot_vs_additive", "dot", "laptop")


def test_prefix_loss_equals_teacher_forced_loss_for_a_causal_model():
    torch.manual_seed(0)
    idx = torch.randint(0, 30, (3, 9))
    pad = torch.ones(3, 9, dtype=torch.bool)
    pad[2, 6:] = False
    targets = torch.randint(0, 30, (3, 9)).masked_fill(~pad, -100)
    batches = [(idx, targets, pad)]
    honest = MiniGPT(GPTConfig(vocab_size=30, block_size=9, n_layer=2, n_head=2, n_embd=16))
    assert prefix_loss(honest, batches)["loss"] == pytest.approx(evaluate(honest, batches)["loss"], abs=1e-5)
    leaky = MiniGPT(GPTConfig(vocab_size=30, block_size=9, n_layer=2, n_head=2, n_embd=16, masking="zero"))
    with torch.no_grad():
        for b in leaky.blocks:
            b.attn.in_proj.weight.mul_(30)
    assert abs(prefix_loss(leaky, batches)["loss"] - evaluate(leaky, batches)["loss"]) > 1e-4


def test_reference_tables(dot_run):
    s = spread([dot_run, dot_run], "dev_loss")
    assert s["dot"]["n"] == 2 and s["dot"]["sd"] == 0
    html = published_table("dot_vs_additive", runs=[dot_run])._repr_html_()
    assert "3:35" in html and "20:29" in html and "your run" in html
    for r in load_references("dot_vs_additive"):
        assert r.provenance["commit"] and r.provenance["date"] and r.experiment == "dot_vs_additive"


def test_published_table_says_what_its_loss_and_perplexity_columns_measure(dot_run):
    note = published_table("dot_vs_additive", runs=[dot_run]).note
    assert "last 5% of steps" in note and "not exp(final train loss)" in note
    assert f"e^{dot_run.final_train_loss:.2f} = {math.exp(dot_run.final_train_loss):.1f}" in note
    assert f"{E.SCALE_SETTINGS['smoke']['eval_batches']} at smoke" in note
    assert "e^5.85 = 347.2 beside 401.0" in note             # the write-up's figures, untouched
    assert math.isclose(dot_run.train_ppl, math.exp(dot_run.train_loss))


def test_scale_note_plurals_and_step_count(dot_run):
    from minilib.experiments import lm
    assert "a MiniGPT with 1 layer, 2 heads" in lm.scale_note("smoke")
    assert "a MiniGPT with 2 layers, 4 heads" in lm.scale_note("cpu")
    assert lm.n_steps("dot_vs_additive", "dot", "smoke") == dot_run.steps
    assert lm.n_steps("masking", "zero", "smoke", steps=7) == 7


def test_lab_panel_draws_its_own_short_progress_line():
    import ipywidgets as W
    from minilib.widgets import LabPanel
    panel = LabPanel("masking", scale="smoke")
    panel.steps.value = 12
    panel.run(["zero"], progress=True)                       # the panel's own line, never tqdm's
    (bar, text), = panel.lines
    assert isinstance(bar, W.IntProgress) and bar.value == bar.max == 12
    assert "zero: 12 steps" in text.value and len(text.value) < 80        # fits a book column


def test_lab_panel_runs_and_keeps_every_run():
    from minilib.widgets import LabPanel
    panel = LabPanel("masking", scale="smoke")
    panel.steps.value = 12
    first = panel.run(["zero"])
    panel.picks["-inf"].value = False
    second = panel.run()
    assert [r.variant for r in panel.results] == ["zero", "zero"] and first[0].steps == 12 == second[0].steps
    assert "2 in this session" in panel.status.value


def test_head_qk_reproduces_the_models_attention_weights(dot_run):
    from minilib.attention import causal_mask
    q, k = E.head_qk(dot_run, 1)
    T = q.shape[0]
    scores = (q @ k.T / q.shape[1] ** 0.5).masked_fill(~causal_mask(T), float("-inf"))
    w = dot_run.model.attention_weights(E.probe_ids(dot_run, 1))[0][0, 0]
    torch.testing.assert_close(torch.softmax(scores, -1), w, atol=1e-5, rtol=0)


def test_baseline_is_stored_once_and_read_by_every_experiment(tmp_path, monkeypatch):
    from minilib import results
    from minilib.experiments import lm
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    paths = {lm.reference_path(e, v, "smoke", 0) for e in E.EXPERIMENTS for v in E.EXPERIMENTS[e]}
    assert len(paths) == sum(map(len, E.EXPERIMENTS.values())) - 2          # three baselines, one file
    assert lm.reference_path("masking", "-inf", "smoke", 0).name == "baseline_smoke_seed0.json"
    r = E.run("masking", "-inf", "smoke", progress=False)
    base = RunResult.load(r.save(tmp_path / "baseline_smoke_seed0.json"))
    assert base.variant == "-inf"
    import dataclasses
    dataclasses.replace(base, experiment="baseline", variant="baseline").save(tmp_path / "baseline_smoke_seed0.json")
    for exp, variant in E.BASELINE.items():
        (ref,) = E.references(exp, scale="smoke")
        assert (ref.experiment, ref.variant, ref.dev_loss) == (exp, variant, r.dev_loss)
    with pytest.warns(UserWarning, match="no stored reference runs of 'masking'"):
        assert E.references("masking", "zero", scale="smoke") == []
