"""The MLM floor against brute force: every sentence of the tiny language, listed with its probability."""
import math
import random

import pytest
import torch

from minilib.data import SyntheticLanguage, Tokenizer
from minilib.data.mlm_floor import floor_batches, floor_positions, masked_word_logprobs, mlm_floor


@pytest.fixture(scope="module")
def tiny():
    lang = SyntheticLanguage.tiny()
    return lang, lang.enumerate_sentences()


def brute_force(sentences, tokens, t):
    """p(w_t = c | rest) from the listed joint: sum P over sentences equal to ``tokens`` outside t, by word."""
    mass = {}
    for s, lp in sentences:
        if len(s) == len(tokens) and s[:t] == tokens[:t] and s[t + 1:] == tokens[t + 1:]:
            mass[s[t]] = mass.get(s[t], 0.0) + math.exp(lp)
    z = sum(mass.values())
    return {c: m / z for c, m in mass.items()}


def test_masked_word_probabilities_equal_brute_force(tiny):
    lang, sentences = tiny
    rng = random.Random(0)
    checked, uncertain = 0, 0
    for s, _ in rng.sample(sentences, 12):
        for t in range(len(s)):
            want = brute_force(sentences, s, t)
            got = {c: math.exp(lp) for c, lp in masked_word_logprobs(s, t, lang).items()}
            assert set(got) == set(want), (s, t)
            for c in want:
                assert got[c] == pytest.approx(want[c], rel=1e-9, abs=1e-12)
            checked += 1
            uncertain += len(want) > 1
    assert checked > 50 and uncertain > 10         # often more than one word fits: the floor is not 0


def test_floor_is_the_mean_negative_logprob_and_batches_target_exactly_those_words(tiny):
    lang, sentences = tiny
    sents = [s for s, _ in sentences[::997]]
    pos = floor_positions(sents, 15, max_words=12, seed=1)
    assert len({i for i, _ in pos}) == 15 and all(len(sents[i]) <= 12 for i, _ in pos)
    f = mlm_floor(sents, pos, lang)
    want = -sum(math.log(brute_force(sentences, sents[i], t)[sents[i][t]]) for i, t in pos) / 15
    assert f.positions == 15 and f.loss == pytest.approx(want, rel=1e-9)
    tok = Tokenizer(lang.vocabulary()).with_mask()
    batches = floor_batches(sents, pos, tok, batch_size=4)
    assert [b.idx.shape[0] for b in batches] == [4, 4, 4, 3]
    rows = [(b.idx[r], b.targets[r], b.pad_mask[r]) for b in batches for r in range(b.idx.shape[0])]
    for (i, t), (idx, targets, pad) in zip(pos, rows):
        assert (targets != -100).sum() == 1 and tok.decode([int(targets[t + 1])]) == [sents[i][t]]
        assert int(idx[t + 1]) == tok.mask_id and int(pad.sum()) == len(sents[i]) + 2
        assert int(idx[0]) == tok.start_id and int(idx[len(sents[i]) + 1]) == tok.stop_id
    with pytest.raises(ValueError, match="ask for fewer positions"):
        floor_positions(sents, 500, max_words=3)
    with pytest.raises(ValueError, match="not a sentence of this language"):
        masked_word_logprobs(["the", "the"], 0, lang)
    assert torch.is_tensor(batches[0].idx)
