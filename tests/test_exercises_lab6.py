"""Lab 6's and chapter 6's checkers accept the solution and reject wrong answers."""
import pytest
import torch

from minilib.data import SyntheticLanguage, minimal_pairs
from minilib.data.minimal_pairs import AGREEMENT
from minilib.exercises.roberta import check_nearest_noun, nearest_noun_agrees, number, rule_accuracy

transformers = pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")


@pytest.fixture(scope="module")
def lang():
    return SyntheticLanguage(seed=0, n_types=200)


@pytest.fixture(scope="module")
def pairs(lang):
    return minimal_pairs(lang, 140, seed=4, max_words=16)


def test_nearest_noun_checker(lang, pairs):
    assert check_nearest_noun(nearest_noun_agrees, pairs, lang, verbose=False)
    assert not check_nearest_noun(None, pairs, lang, verbose=False)
    assert not check_nearest_noun(lambda w, t, l: True, pairs, lang, verbose=False)

    def first_noun(words, target, language):                 # agrees with the first noun instead
        nouns = set(language.categories["N_sg"]) | set(language.categories["N_pl"])
        first = next((w for w in words[:target] if w in nouns), None)
        return first is not None and number(first, language) == number(words[target], language)
    assert not check_nearest_noun(first_noun, pairs, lang, verbose=False)
    assert not check_nearest_noun(lambda w, t, l: 1 / 0, pairs, lang, verbose=False)
    right = rule_accuracy(nearest_noun_agrees, pairs, lang)
    agreement = [p for p in pairs if p.construction in AGREEMENT]
    with_attractors = [r for r, p in zip(right, agreement) if p.attractors]
    assert with_attractors and max(with_attractors) == 0.0     # attractors defeat the rule, every time
    assert sum(right) / len(right) > 0.5


def test_loo_mask_checker(lang):
    from minilib.exercises.explanation import _loo_mask, check_loo_mask
    from minilib.hf import classifier, eager, explain, roberta_config, train_tokenizer
    sents = [s for s in lang.sample(300, 2) if len(s) <= 12]
    tok = train_tokenizer(sents, vocab_size=350, max_len=40)
    model = eager(classifier(roberta_config(tok, max_len=40, hidden=32, layers=1, heads=2), seed=0)).eval()
    with torch.no_grad():                                      # a model whose outputs move: larger head weights
        model.classifier.out_proj.weight.mul_(50)
    probe = sents[:3]
    assert check_loo_mask(_loo_mask, model, tok, probe, verbose=False)
    assert not check_loo_mask(None, model, tok, probe, verbose=False)
    assert not check_loo_mask(lambda m, t, w: explain(m, t, w)["loo"], model, tok, probe, verbose=False)
    assert not check_loo_mask(lambda m, t, w: torch.zeros(len(w)), model, tok, probe, verbose=False)
    assert not check_loo_mask(lambda m, t, w: torch.zeros(3 + len(w)), model, tok, probe, verbose=False)
