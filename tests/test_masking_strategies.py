"""Sub-word tokens that know their word, whole-word masking on them, and the masking-strategies experiment."""
import json
import math

import pytest

pytest.importorskip("tokenizers", reason="Hugging Face tokenizers is installed with transformers (requirements.txt)")

from minilib.data import MLMBatches, SubwordTokenizer, load_corpus, subword_batches  # noqa: E402
from minilib.data.mlm import encoder_rows  # noqa: E402
from minilib.experiments import masking_strategies as ms  # noqa: E402


@pytest.fixture(scope="module")
def corpus_and_tok():
    corpus = load_corpus("synthetic", n_train_tokens=6_000, n_types=200, seed=0)
    return corpus, SubwordTokenizer.train(corpus.train, vocab_size=150)


def words_of(tok, ids, word_ids):
    """Glue the pieces of each word back together."""
    words = {}
    for i, w in zip(ids, word_ids):
        if w >= 0:
            words[w] = words.get(w, "") + tok.decode([i])[0]
    return [words[k] for k in sorted(words)]


def test_pieces_know_their_word(corpus_and_tok):
    corpus, tok = corpus_and_tok
    assert tok.vocab_size == 150 and tok.decode(range(5)) == ["<PAD>", "<START>", "<STOP>", "<UNK>", "<MASK>"]
    sent = corpus.dev[0]
    ids, wid = tok.encode(sent)
    assert ids[0] == tok.start_id and ids[-1] == tok.stop_id and wid[0] == wid[-1] == -1
    assert len(ids) > len(sent) + 2                                  # some words span several pieces
    known = [w for w in sent if tok.unk_id not in tok.encode([w], add_special=False)[0]]
    assert [w for w in words_of(tok, ids, wid) if w != "<UNK>"] == known
    assert len(tok.pieces(max(sent, key=len))) > 1


def test_the_vocabulary_is_reproducible(corpus_and_tok):
    corpus, tok = corpus_and_tok
    def vocab(t):
        return sorted(t.hf.get_vocab().items(), key=lambda kv: kv[1])
    for _ in range(3):                    # the raw trainer's order of equal-score pieces varies
        assert vocab(SubwordTokenizer.train(corpus.train, vocab_size=150)) == vocab(tok)
    with pytest.raises(ValueError, match="must exceed the 5 special tokens"):
        SubwordTokenizer.train(corpus.train, vocab_size=5)


def test_word_ids_line_up_with_their_tokens_in_shuffled_batches(corpus_and_tok):
    corpus, tok = corpus_and_tok
    sents = corpus.train[:200]
    batches, word_ids = subword_batches(tok, sents, batch_size=16, max_len=24, seed=3)
    want = sorted(" ".join(words_of(tok, *tok.encode(s))) for s in sents if len(tok.encode(s)[0]) <= 25)
    got = []
    for b, w in zip(batches, word_ids):
        ids, mask = encoder_rows(b)
        assert w.shape == ids.shape and ((w == -1) | mask).all()
        for r in range(len(ids)):
            if mask[r].sum() <= 25 and ids[r][mask[r]][-1] == tok.stop_id:       # rows that were not truncated
                got.append(" ".join(words_of(tok, ids[r][mask[r]].tolist(), w[r][mask[r]].tolist())))
    assert sorted(got) == want
    data = MLMBatches(batches, tokenizer=tok, mask_id=tok.mask_id, vocab_size=tok.vocab_size, strategy="whole_word",
                      word_ids=word_ids, p=0.3)
    whole = split = 0
    for i in range(len(batches)):
        chosen, w = data[i].targets != -100, word_ids[i]
        for r in range(len(w)):
            for k in w[r][chosen[r]].unique():
                piece = w[r] == k
                whole += bool(chosen[r][piece].all())
                split += int(piece.sum() > 1)
    assert whole > 100 and split > 20                                # every chosen word whole; many of several pieces


def test_verdicts_follow_the_spread():
    def fake(variant, seed, loss, acc):
        return ms.MaskingRun(ms.EXPERIMENT, variant, "x", seed, {}, 0, {}, 0.0, 1, [loss - 1], loss, acc, loss, acc)
    runs = [fake("static", s, 5.9 + 0.01 * s, 0.12) for s in range(3)]
    runs += [fake("dynamic", s, 5.1 + 0.01 * s, 0.15 + 0.001 * s) for s in range(3)]
    runs += [fake("whole_word", s, 5.1 + 0.3 * (s - 1), 0.15 + 0.05 * (s - 1)) for s in range(3)]
    table, out = ms.verdicts(runs)
    by = {(o["metric"], o["claim"][:7]): o for o in out}
    assert by[("dev_loss", "dynamic")]["verdict"] == "confirmed"
    assert by[("dev_loss", "dynamic")]["diff"] == pytest.approx(-0.8)
    assert by[("word_accuracy", "whole-w")]["verdict"] == "no clear difference"       # within 2 SE
    flipped = [fake(r.variant, r.seed, 6.5 if r.variant == "dynamic" else r.dev_loss, r.dev_accuracy) for r in runs]
    assert ms.compare_two(flipped, "dev_loss", "dynamic", "static", True)["verdict"] == "refuted (the opposite)"
    assert "claimed -&gt; measured" in table._repr_html_() and "no clear difference" in str(table)
    text = str(ms.summary(runs))
    assert "5.910 ± 0.010" in text and "0.150 ± 0.050" in text         # static's dev loss, whole_word's accuracy


def test_a_smoke_run_trains_and_scores(tmp_path):
    r = ms.run("whole_word", "smoke", seed=0, progress=False, epochs=1)
    assert r.steps == len(r.losses) > 0 and r.config["data"]["epochs"] == 1
    assert math.log(r.data["vocab_size"]) * 0.5 < r.dev_loss < math.log(r.data["vocab_size"]) + 1
    assert 0 <= r.word_accuracy <= r.dev_accuracy + 0.5 and r.data["dev_words_split"] > 0.2
    back = ms.MaskingRun.load(r.save(tmp_path / "run.json"))
    assert back.dev_loss == r.dev_loss and back.provenance["commit"]
    with pytest.raises(ValueError, match="unknown strategy 'random'"):
        ms.run("random", "smoke")


def test_stored_reference_runs_have_three_seeds_and_provenance():
    runs = ms.load("cpu")
    assert {r.variant for r in runs} == set(ms.STRATEGIES), "run `make reproduce` (masking_strategies)"
    for v in ms.STRATEGIES:
        mine = [r for r in runs if r.variant == v]
        assert sorted(r.seed for r in mine) == [0, 1, 2]
        assert all(r.provenance["commit"] and r.provenance["date"] and r.scale == "cpu" for r in mine)
        assert len({json.dumps(r.config["data"], sort_keys=True) for r in mine}) == 1
