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
    assert verdicts["verdict"].split(":")[0] in ("yes", "partly", "no")

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
