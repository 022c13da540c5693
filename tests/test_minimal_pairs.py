"""Minimal pairs from the synthetic language: one word apart, the bad one rejected exactly there, the
controller found by the grammar (not by a pattern)."""
import collections

import pytest

from minilib.data import SyntheticLanguage
from minilib.data.minimal_pairs import (AGREEMENT, CONSTRUCTIONS, _Forms, find_pairs, first_failure, minimal_pairs,
                                        split_pairs)


@pytest.fixture(scope="module")
def lang():
    return SyntheticLanguage(seed=0, n_types=300)


@pytest.fixture(scope="module")
def pairs(lang):
    return minimal_pairs(lang, 280, seed=5, max_words=30)


def test_each_pair_differs_in_exactly_the_target_and_the_grammar_rejects_it_there(lang, pairs):
    for p in pairs:
        assert lang.is_grammatical(list(p.good))
        assert not lang.is_grammatical(list(p.bad))
        assert len(p.good) == len(p.bad)
        assert [i for i, (a, b) in enumerate(zip(p.good, p.bad)) if a != b] == [p.target]
        assert first_failure(lang, p.bad) == p.target          # rejected at the changed word, not before
        assert 0 <= p.controller < p.target < len(p.good) and p.distance == p.target - p.controller
        assert p.evidence == (p.controller, p.target)


def test_constructions_are_balanced_and_their_controllers_are_what_they_say(lang, pairs):
    counts = collections.Counter(p.construction for p in pairs)
    assert set(counts) == set(CONSTRUCTIONS) and set(counts.values()) == {40}
    forms = _Forms(lang)
    for p in pairs:
        c, t = p.good[p.controller], p.good[p.target]
        if p.construction in AGREEMENT:
            # the controller is a noun whose number, flipped, breaks the sentence exactly at the target
            flipped = list(p.good)
            flipped[p.controller] = forms.flip_noun[c]
            assert first_failure(lang, flipped) == p.target
            assert t in forms.flip_verb and p.bad[p.target] == forms.flip_verb[t]
        elif p.construction == "pronoun":
            assert c in lang.gender and t in forms.flip_pronoun
            assert not any(w in lang.gender for w in p.good[p.controller + 1:p.target])      # the latest name
        else:
            assert (c, t) in (('"', '"'), ("(", ")")) and p.bad[p.target] in (")", '"')
    relative = [p for p in pairs if p.construction == "across relative clause"]
    assert all(p.good[p.controller + 1] == "that" and p.distance >= 3 for p in relative)
    assert all(p.distance == 1 for p in pairs if p.construction == "adjacent")


def test_attractors_count_nouns_of_the_other_number_in_between(lang):
    forms = _Forms(lang)
    n_sg, n_pl = lang.categories["N_sg"], lang.categories["N_pl"]
    good = ["the", n_sg[0], "of", "the", n_pl[1], lang.categories["VI_sg"][0], "."]     # "the X of the Ys runs ."
    assert lang.is_grammatical(good)
    (p,) = [q for q in find_pairs(lang, good, forms) if q.target == 5]
    assert (p.construction, p.controller, p.attractors, p.distance) == ("prepositional phrase", 1, 1, 4)


def test_generation_is_reproducible_and_splits_keep_pairs_whole(lang, pairs):
    again = minimal_pairs(lang, 280, seed=5, max_words=30)
    assert again == pairs
    train, test = split_pairs(pairs, (0.75, 0.25), seed=1)
    assert len(train) == 210 and len(test) == 70 and not set(train) & set(test)


def test_bad_requests_get_clear_errors(lang):
    with pytest.raises(ValueError, match="construction"):
        minimal_pairs(lang, 10, constructions=("agreement",))
    with pytest.raises(RuntimeError, match="still lack pairs"):
        minimal_pairs(lang, 50, constructions=("parenthesis",), max_sentences=20)
    with pytest.raises(ValueError, match="not a sentence"):
        find_pairs(lang, ["the", "the", "."])


def test_counterparts(lang):
    from minilib.data.minimal_pairs import counterpart
    n_sg, n_pl = lang.categories["N_sg"][3], lang.categories["N_pl"][3]
    assert counterpart(n_sg, lang) == n_pl and counterpart(n_pl, lang) == n_sg
    assert counterpart("is", lang) == "are" and counterpart("she", lang) == "he" and counterpart("him", lang) == "her"
    assert counterpart("the", lang) is None and counterpart("did", lang) is None
