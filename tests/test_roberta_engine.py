"""Lab 6's engine end to end at smoke scale: a run saves and loads, the cached classifier is the trained one."""
import json

import pytest
import torch

pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")

from minilib.data.minimal_pairs import CONSTRUCTIONS  # noqa: E402
from minilib.experiments import roberta as R  # noqa: E402
from minilib.experiments import roberta_explain as X  # noqa: E402


def test_run_save_load_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILIB_CACHE", str(tmp_path / "cache"))
    r = R.run("pretrained", "smoke", seed=0, progress=False)
    assert r.pretrain["steps"] > 0 and r.finetune["steps"] > 0 and 0 <= r.test["pair_accuracy"] <= 1
    assert set(r.test["by_construction"]) <= set(CONSTRUCTIONS)
    n = R.settings("smoke")["explain_pairs"]
    assert r.explanation["sentences"] == 2 * n and len(r.explanation["tau_grad_loo"]) == 2 * n
    path = r.save(tmp_path / "roberta_pretrained_smoke_seed0.json")
    again = R.RobertaRun.load(path)
    assert again.test == json.loads(json.dumps(r.test)) and again.provenance["minilib"]
    assert [x.seed for x in R.load("smoke", tmp_path)] == [0]
    _, verdicts = X.claims(again.explanation)
    assert verdicts["verdict"].split(":")[0] in ("yes", "partly", "no", "model at chance", "model below chance")

    clf, tok, d = R.trained("smoke", seed=0, progress=False)       # trains once, then caches
    assert R.cache_dir("smoke", 0).exists() and clf.config._attn_implementation == "eager"
    clf2, _, _ = R.trained("smoke", seed=0)
    from minilib.hf import encode_words
    x = torch.tensor(encode_words(tok, [d["test_pairs"][0].good])[0])
    torch.testing.assert_close(clf(input_ids=x).logits, clf2(input_ids=x).logits)
    with pytest.raises(ValueError, match="variant"):
        R.run("distilled", "smoke")
    with pytest.raises(ValueError, match="unknown setting"):
        R.settings("smoke", hiddn=3)


def _record(correct, tvd_shift=0.0):
    n = len(correct)
    edit = {"tvd": [tvd_shift] * n, "correct": [0.0 if tvd_shift else c for c in correct]}
    return {"n_layers": 1, "sentences": n, "tau_att_grad": [[0.5]] * n, "tau_att_loo": [[0.5]] * n,
            "tau_grad_loo": [0.5] * n, "hit_att": [[1.0]] * n, "hit_grad": [1.0] * n, "hit_loo": [1.0] * n,
            "chance": [0.2] * n, "correct": list(correct), "edits": {"0:uniform": edit, "0:permuted": edit}}


def test_a_model_at_chance_gets_no_verdict():
    at_chance = _record([1.0, 0.0] * 8)                             # accuracy 0.5: it guesses
    assert X.above_chance(at_chance)["verdict"] == "unclear"
    assert X.claims(at_chance)[1]["verdict"].startswith("model at chance: no verdict")
    assert X.claims(_record([0.0] * 15 + [1.0]))[1]["verdict"].startswith("model below chance")
    good = _record([1.0] * 15 + [0.0], tvd_shift=0.4)              # accuracy 0.94, and attention matters
    assert X.above_chance(good)["verdict"] == "yes"
    assert X.claims(good)[1]["verdict"].split(":")[0] in ("yes", "partly")
    ignores = _record([1.0] * 15 + [0.0])                           # accurate, but edits change nothing
    assert X.claims(ignores)[1]["verdict"].startswith("no:")


def test_scale_note_counts_and_plurals():
    note = R.scale_note("smoke")
    assert "up to 350 training and 140 test minimal pairs" in note
    assert "2 layers" in note and "1 layers" not in note and R._n(1, "head") == "1 head"
