"""The course's data: the synthetic language (exactness, recogniser), tokenizers, corpora, batches."""
import dataclasses
import hashlib
import io
import json
import zipfile
import math
from collections import Counter

import numpy as np
import pytest
import torch

from minilib.data import (CorpusUnavailableError, SyntheticLanguage, Tokenizer, corpus_stats, downloads,
                          encode_corpus, floor_logprobs, load_corpus, make_batches, true_loss)


@pytest.fixture(scope="module")
def lang():
    return SyntheticLanguage(seed=0)


@pytest.fixture(scope="module")
def tiny():
    lang = SyntheticLanguage.tiny()
    return lang, lang.enumerate_sentences()


@pytest.fixture(scope="module")
def samples(lang):
    return lang.sample(2_000, 123, with_logprob=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load_corpus(n_train_tokens=20_000, cache_dir=tmp_path_factory.mktemp("cache"))


# ---------------------------------------------------------------- the language is exact
def test_tiny_language_probabilities_sum_to_one(tiny):
    lang, sents = tiny
    strings = {tuple(s) for s, _ in sents}
    assert len(strings) == len(sents) > 1_000          # every derivation is a different string
    assert abs(math.fsum(math.exp(lang.logprob(s)) for s in strings) - 1) < 1e-9
    for s, lp in sents[:500]:                           # the scorer agrees with the derivation
        assert lang.logprob(s) == pytest.approx(lp, abs=1e-12)


def test_sampling_frequencies_match_logprobs(tiny):
    lang, sents = tiny
    n = 20_000
    counts = Counter(tuple(s) for s in lang.sample(n, 7))
    probs = sorted(((math.exp(lp), tuple(s)) for s, lp in sents), reverse=True)
    top = [(p, s) for p, s in probs if p * n >= 20]     # cells with enough expected counts
    assert len(top) >= 20
    observed = [counts[s] for _, s in top] + [n - sum(counts[s] for _, s in top)]
    expected = [p * n for p, _ in top] + [n * (1 - sum(p for p, _ in top))]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
    dof = len(observed) - 1
    assert chi2 < dof + 5 * math.sqrt(2 * dof), (chi2, dof)


def test_entropy_estimate_covers_exact_value(tiny):
    lang, _ = tiny
    exact = lang.exact_entropy_per_token()
    est = lang.entropy_per_token(n=5_000, seed=1)
    assert est.n == 5_000 and 0 < est.stderr < 0.05 and est.tokens > est.n
    assert abs(est.value - exact) < 4 * est.stderr, (est, exact)


def test_grammar_is_ll1_and_lexicon_size_is_exact():
    for n_types in (120, 1_000, 7_900):
        lang = SyntheticLanguage(seed=3, n_types=n_types)
        vocab = lang.vocabulary()
        assert len(vocab) == len(set(vocab)) == n_types
        lang.check_deterministic()
    assert SyntheticLanguage(seed=0).vocabulary() == SyntheticLanguage(seed=0).vocabulary()
    assert SyntheticLanguage(seed=0).vocabulary() != SyntheticLanguage(seed=1).vocabulary()
    with pytest.raises(ValueError, match="n_types"):
        SyntheticLanguage(n_types=50)


def test_ambiguous_grammar_is_rejected():
    """A verb-level prepositional phrase after an object makes "sees the dog with the hat" ambiguous."""
    from minilib.data.rules import build_rules
    lang = SyntheticLanguage(n_types=300)
    rules = build_rules(0.85, 0.25, 0.84)
    rules["VP_sg"].append((0.1, "@VT_sg NP_O VMOD", 0))
    with pytest.raises(ValueError, match="not LL"):
        lang._compile(rules)


def test_sampler_and_scorer_agree_and_lengths(lang, samples):
    sents, lps = samples
    for s, lp in zip(sents[:300], lps):
        tl = lang.token_logprobs(s)
        assert len(tl) == len(s) + 1 and all(x <= 0 for x in tl)
        assert math.fsum(tl) == pytest.approx(lp, abs=1e-9)
    lengths = np.array([len(s) for s in sents])
    assert 20 <= lengths.mean() <= 27 and lengths.max() > 100
    assert lang.sample(5, 42) == lang.sample(5, 42) != lang.sample(5, 43)
    assert lang.sample(3, np.random.default_rng(0)) == lang.sample(3, np.random.default_rng(0))


# ---------------------------------------------------------------- the recogniser
def test_recogniser_accepts_every_sample(lang, samples):
    assert all(lang.is_grammatical(s) for s in samples[0])


def _hand_sentences(lang):
    c = lang.categories
    f_name = c["NAME"][0]                                  # rank 0: ends in a vowel -> she/her
    n_sg, n_pl = c["N_sg"][0], c["N_pl"][0]
    return {
        "agreement": (f"the {n_pl} that the {n_sg} {c['VT_sg'][0]} {c['VI_pl'][1]} .",
                      f"the {n_pl} that the {n_sg} {c['VT_sg'][0]} {c['VI_sg'][1]} ."),
        "quote": (f'{f_name} {c["VS_sg"][0]} , " the {n_sg} {c["VI_sg"][0]} " .',
                  f'{f_name} {c["VS_sg"][0]} , " the {n_sg} {c["VI_sg"][0]} .'),
        "paren": (f"the {n_sg} ( {c['YEAR'][0]} ) {c['VI_sg'][0]} .",
                  f"the {n_sg} ( {c['YEAR'][0]} {c['VI_sg'][0]} ."),
        "pronoun": (f"{f_name} {c['VI_sg'][0]} and she {c['VI_sg'][1]} .",
                    f"{f_name} {c['VI_sg'][0]} and he {c['VI_sg'][1]} ."),
        "determiner": (f"a {n_sg} {c['VI_sg'][0]} .", f"a {n_pl} {c['VI_pl'][0]} ."),
    }


def test_recogniser_rejects_hand_broken_sentences(lang):
    for what, (good, bad) in _hand_sentences(lang).items():
        assert lang.is_grammatical(good.split()), what
        assert not lang.is_grammatical(bad.split()), what
        with pytest.raises(ValueError, match="not a sentence"):
            lang.token_logprobs(bad.split())
        lps = lang.token_logprobs(bad.split(), strict=False)
        assert lps[-1] == -math.inf and len(lps) == len(bad.split()) + 1
    assert not lang.is_grammatical("the zzzunknown .".split())
    assert not lang.is_grammatical([])


def test_recogniser_rejects_perturbed_samples(lang, samples):
    sents = samples[0]
    swap = {}
    for v in ("VI", "VT", "VS"):
        swap.update(zip(lang.categories[f"{v}_sg"], lang.categories[f"{v}_pl"]))
        swap.update(zip(lang.categories[f"{v}_pl"], lang.categories[f"{v}_sg"]))
    checked = Counter()
    for s in sents:
        verbs = [i for i, t in enumerate(s) if t in swap]
        if verbs:                                    # agreement swapped
            i = verbs[-1]
            assert not lang.is_grammatical(s[:i] + [swap[s[i]]] + s[i + 1:]), s
            checked["agreement"] += 1
        for mark in ('"', ")"):                      # a closing quote / parenthesis dropped
            if mark in s:
                i = len(s) - 1 - s[::-1].index(mark)
                assert not lang.is_grammatical(s[:i] + s[i + 1:]), s
                checked[mark] += 1
        if "(" in s:                                 # an extra closing parenthesis
            assert not lang.is_grammatical(s[:-1] + [")", s[-1]])
    assert checked["agreement"] > 1_000 and checked['"'] > 20 and checked[")"] > 20, checked


# ---------------------------------------------------------------- tokenizers
def test_word_tokenizer_round_trip_and_json(small):
    tok = Tokenizer.build(small.train, max_size=500)
    assert (tok.pad_id, tok.start_id, tok.stop_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.itos[:4] == ["<PAD>", "<START>", "<STOP>", "<UNK>"] and tok.vocab_size == 500
    s = small.train[0]
    ids = tok.encode(s, add_special=True)
    assert ids[0] == tok.start_id and ids[-1] == tok.stop_id
    assert tok.decode(ids) == [t if t in tok.stoi else "<UNK>" for t in s]
    assert tok.encode(["never-seen-word"]) == [tok.unk_id]
    assert Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict()))) == tok
    full = small.tokenizer(max_size=8_000)              # the whole lexicon fits: no <UNK> anywhere
    assert full.vocab_size == 7_904
    assert all(full.decode(full.encode(x)) == x for x in small.dev)


def test_char_tokenizer_round_trip():
    texts = ["the cat sat .", "Mira said , \"hello\" ( 1984 )"]
    tok = Tokenizer.chars(texts)
    assert tok.level == "char" and tok.vocab_size == 4 + len(set("".join(texts)))
    for t in texts:
        assert tok.decode_text(tok.encode(t)) == t
    assert tok.decode_text(tok.encode(t.split())) == t   # a word list is joined with spaces
    assert tok.encode("é") == [tok.unk_id]
    assert Tokenizer.from_dict(tok.to_dict()) == tok


# ---------------------------------------------------------------- corpora
def test_same_seed_same_corpus(small, tmp_path):
    again = load_corpus(n_train_tokens=20_000, cache_dir=tmp_path)          # regenerated, not cached
    assert not again.meta["cached"] and again.train == small.train and again.dev == small.dev
    cached = load_corpus(n_train_tokens=20_000, cache_dir=tmp_path)
    assert cached.meta["cached"] and cached.train == small.train and cached.test == small.test
    other = load_corpus(n_train_tokens=20_000, seed=1, cache_dir=tmp_path)
    assert other.train != small.train
    bigger = load_corpus(n_train_tokens=30_000, cache_dir=tmp_path)         # a prefix never changes
    assert bigger.train[:len(small.train)] == small.train
    assert len(list(tmp_path.glob("synthetic-*.npz"))) == 3 and not list(tmp_path.glob("*.tmp"))


def test_corpus_stats(small):
    st = corpus_stats(small)
    assert 20_000 <= st.tokens < 20_200 and st.sentences == len(small.train)
    assert st.unique == len({t for s in small.train for t in s}) and st.lengths.sum() == st.tokens
    assert st.frac_long == pytest.approx(np.mean(st.lengths > 100))
    assert "total tokens 20," in repr(st)
    assert 900 <= sum(map(len, small.dev)) <= 1_200                         # dev_fraction 5%


def test_offline_download_gives_clear_error(monkeypatch, tmp_path):
    def no_network(url):
        raise OSError("network is unreachable")
    monkeypatch.setattr(downloads, "_download", no_network)
    for name in ("tinyshakespeare", "wikitext-2"):
        with pytest.raises(CorpusUnavailableError, match="synthetic") as e:
            load_corpus(name, cache_dir=tmp_path)
        assert isinstance(e.value, RuntimeError) and "pydoc" in str(e.value)


SHAKESPEARE = "First Citizen: Before we proceed, hear me speak.\n\nAll: Speak, speak.\n" * 50


def pin_to(monkeypatch, name, data: bytes):
    """Pretend the pinned file of ``name`` is ``data`` (its true size and hash), so the test needs no network."""
    pin = downloads.PINNED[name]
    fake = dataclasses.replace(pin, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(downloads.PINNED, name, fake)


def test_download_is_verified_then_cached(monkeypatch, tmp_path):
    data = SHAKESPEARE.encode()
    pin_to(monkeypatch, "tinyshakespeare", data)
    monkeypatch.setattr(downloads, "_download", lambda url: data)
    c = load_corpus("tinyshakespeare", cache_dir=tmp_path)
    assert c.train and ["All", ":", "Speak", ",", "speak", "."] in c.train + c.dev + c.test
    monkeypatch.setattr(downloads, "_download", lambda url: pytest.fail("downloaded twice"))
    assert load_corpus("tinyshakespeare", cache_dir=tmp_path).train == c.train


@pytest.mark.parametrize("bad", ["wrong", "truncated"])
def test_wrong_or_truncated_download_is_refused_and_not_cached(monkeypatch, tmp_path, bad):
    data = SHAKESPEARE.encode()
    pin_to(monkeypatch, "tinyshakespeare", data)
    got = data[:-7] if bad == "truncated" else data.replace(b"Citizen", b"Citizan")
    monkeypatch.setattr(downloads, "_download", lambda url: got)
    with pytest.raises(CorpusUnavailableError, match="tinyshakespeare.txt .*not the pinned file") as e:
        load_corpus("tinyshakespeare", cache_dir=tmp_path)
    assert ("bytes instead of" if bad == "truncated" else "SHA-256") in str(e.value)
    assert not (tmp_path / "tinyshakespeare.txt").exists() and not list(tmp_path.iterdir())


def test_damaged_cache_is_fetched_again(monkeypatch, tmp_path):
    data = SHAKESPEARE.encode()
    pin_to(monkeypatch, "tinyshakespeare", data)
    (tmp_path / "tinyshakespeare.txt").write_bytes(data[:100])           # an interrupted earlier download
    monkeypatch.setattr(downloads, "_download", lambda url: data)
    assert load_corpus("tinyshakespeare", cache_dir=tmp_path).train
    assert (tmp_path / "tinyshakespeare.txt").read_bytes() == data


def test_wikitext_is_read_from_the_pinned_zip(monkeypatch, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f, line in (("train", "The cat sat . It ran ?"), ("valid", "= Head =\nA dog ."), ("test", "Fin !")):
            z.writestr(f"wikitext-2/wiki.{f}.tokens", line + "\n")
    pin_to(monkeypatch, "wikitext-2", buf.getvalue())
    monkeypatch.setattr(downloads, "_download", lambda url: buf.getvalue())
    c = load_corpus("wikitext-2", cache_dir=tmp_path)
    assert c.train == [["The", "cat", "sat", "."], ["It", "ran", "?"]]
    assert c.dev == [["A", "dog", "."]] and c.test == [["Fin", "!"]]


def test_pins_are_well_formed():
    for name, pin in downloads.PINNED.items():
        assert pin.url.startswith("https://") and pin.size > 100_000 and len(pin.sha256) == 64, name
        int(pin.sha256, 16)


def test_unknown_corpus_and_local_files(tmp_path):
    with pytest.raises(ValueError, match="synthetic.*pydoc"):
        load_corpus("no-such-corpus")
    path = tmp_path / "mine.txt"
    path.write_text("\n".join(f"sentence number {i} is here ." for i in range(100)))
    c = load_corpus(str(path), seed=0)
    assert len(c.train) + len(c.dev) + len(c.test) == 100 and c.language is None
    assert ["sentence", "number", "7", "is", "here", "."] in c.train + c.dev + c.test
    py = load_corpus("pydoc")
    assert corpus_stats(py).tokens > 50_000 and py.train == load_corpus("pydoc").train


# ---------------------------------------------------------------- batches
def test_batches_padding_targets_and_truncation(small):
    tok = small.tokenizer()
    rows = encode_corpus(small, tok)["train"]
    rows = rows + [[tok.start_id] + [10] * 250 + [tok.stop_id]]       # one very long row
    batches = make_batches(rows, batch_size=16, max_len=50, seed=3)
    assert sum(b.idx.shape[0] for b in batches) == len(rows)
    for b in batches:
        assert b.idx.dtype == b.targets.dtype == torch.long and b.pad_mask.dtype == torch.bool
        assert b.idx.shape == b.targets.shape == b.pad_mask.shape and b.idx.shape[1] <= 50
        assert torch.equal(b.targets == -100, ~b.pad_mask)               # no target exactly at padding
        assert bool((b.idx[~b.pad_mask] == 0).all()) and bool((b.idx[b.pad_mask] != 0).all())
        assert bool((b.idx[:, 0] == tok.start_id).all())
        assert bool(b.pad_mask[:, 0].all()) and b.pad_mask.any(0).all()  # padded to the longest row
        n = b.pad_mask.sum(1)
        assert bool((b.pad_mask == (torch.arange(b.idx.shape[1]) < n[:, None])).all())
        assert torch.equal(b.idx[:, 1:][b.pad_mask[:, 1:]], b.targets[:, :-1][b.pad_mask[:, 1:]])
    first = sorted(tuple(b.targets[i][b.pad_mask[i]].tolist()) for b in batches for i in range(len(b.idx)))
    assert first == sorted(tuple(r[1:51]) for r in rows)                 # every row once, truncated
    again = make_batches(rows, batch_size=16, max_len=50, seed=3)
    assert all(torch.equal(a.idx, b.idx) for a, b in zip(batches, again))
    other = make_batches(rows, batch_size=16, max_len=50, seed=4)
    assert not all(a.idx.shape == b.idx.shape and torch.equal(a.idx, b.idx) for a, b in zip(batches, other))
    padded = sum(b.idx.numel() for b in batches)
    unbucketed = sum(b.idx.numel() for b in make_batches(rows, batch_size=16, max_len=50, bucket=False))
    assert padded < 0.8 * unbucketed


def test_make_batches_validates():
    with pytest.raises(ValueError, match="batch_size"):
        make_batches([[1, 5, 2]], batch_size=0)
    with pytest.raises(ValueError, match="max_len"):
        make_batches([[1, 5, 2]], max_len=0)
    with pytest.raises(ValueError, match="no sentences"):
        make_batches([])
    with pytest.raises(ValueError, match="fewer than 2"):
        make_batches([[1, 5, 2], [1]])


def test_true_loss_is_the_floor_on_exactly_the_batched_targets(small):
    lang = small.language
    lps = floor_logprobs(small.dev, lang, max_len=10)
    assert all(len(x) == min(len(s) + 1, 10) for x, s in zip(lps, small.dev))
    floor = true_loss(small.dev, lang, max_len=100)
    tok = small.tokenizer()
    rows = encode_corpus(small, tok)["dev"]
    n_targets = sum(int((b.targets != -100).sum()) for b in make_batches(rows, max_len=100))
    assert floor.tokens == n_targets
    assert true_loss(rows, lang, tokenizer=tok) == floor
    est = lang.entropy_per_token(n=5_000)
    assert abs(floor.loss - est.value) < 0.3                               # a small dev set, same rate
