"""The Hugging Face bridge: the BPE tokenizer round trip, MLM and classification batches, attention edits against
transformers' own eager attention, pseudo-log-likelihood, word importances, and roberta-base offline."""
import os
import subprocess
import sys

import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")

from minilib.data import SyntheticLanguage  # noqa: E402
from minilib.hf import (HubUnavailableError, class_probs, classification_batches, classifier, eager,  # noqa: E402
                        edited_attention, encode_words, decode_words, explain, load_pretrained, masked_lm,
                        mlm_batches, pieces, pseudo_log_likelihood, roberta_config, train_tokenizer)


@pytest.fixture(scope="module")
def lang():
    return SyntheticLanguage(seed=0, n_types=200)


@pytest.fixture(scope="module")
def sentences(lang):
    return [s for s in lang.sample(600, 3) if len(s) <= 20]


@pytest.fixture(scope="module")
def tok(sentences):
    return train_tokenizer(sentences, vocab_size=400, max_len=48)


@pytest.fixture(scope="module")
def model(tok):
    return eager(classifier(roberta_config(tok, max_len=48, hidden=32, layers=2, heads=2, dropout=0.0), seed=0))


def test_tokenizer_round_trip_and_roberta_specials(tok, sentences, lang):
    assert tok.convert_ids_to_tokens(list(range(5))) == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.mask_token_id) == (0, 1, 2, 4)
    unseen = lang.sample(50, 99)                      # sentences the tokenizer never saw
    ids, word_ids = encode_words(tok, unseen)
    for s, i, w in zip(unseen, ids, word_ids):
        assert decode_words(tok, i) == s              # byte-level BPE: every sentence comes back exactly
        assert i[0] == 0 and i[-1] == 2 and w[0] is None and w[-1] is None
        assert sorted(set(x for x in w if x is not None)) == list(range(len(s)))
        assert tok.unk_token_id not in i
    # the wrapped tokenizer and the raw tokenizers' one agree, and a word's pieces spell it after a space
    assert ids[0] == tok.backend_tokenizer.encode(" ".join(unseen[0])).ids
    assert "".join(pieces(tok, "the")) == "Ġthe"
    assert "".join(pieces(tok, "Zzyzxqq")).replace("Ġ", " ") == " Zzyzxqq"


def test_mlm_batches_mask_like_bert_and_are_reproducible(tok, sentences):
    a = mlm_batches(tok, sentences, batch_size=16, max_len=48, epochs=2, seed=3)
    b = mlm_batches(tok, sentences, batch_size=16, max_len=48, epochs=2, seed=3)
    half = len(a) // 2
    assert all(torch.equal(x.idx, y.idx) and torch.equal(x.targets, y.targets) for x, y in zip(a, b))
    assert not torch.equal(a[0].targets, a[half].targets)                       # a new draw each epoch
    real = sum(int(x.pad_mask.sum()) for x in a)
    chosen = torch.cat([x.targets[x.targets != -100] for x in a])
    assert 0.12 < len(chosen) / real < 0.18                                     # about 15% (specials never)
    masked = sum(int((x.idx == tok.mask_token_id).sum()) for x in a)
    assert 0.72 < masked / len(chosen) < 0.88                                   # about 80% become <mask>
    for x in a:
        assert not (x.targets[~x.pad_mask] != -100).any()                       # padding never a target
        assert not torch.isin(x.targets, torch.tensor([0, 1, 2])).any()         # nor <s>, <pad>, </s>


def test_classification_batches_keep_labels_with_their_sentences(tok, sentences):
    labels = [len(s) % 2 for s in sentences]
    batches, order = classification_batches(tok, sentences, labels, batch_size=8, max_len=48, seed=1)
    ids, _ = encode_words(tok, sentences, max_len=48)
    seen = []
    for (x, y, m), k in zip(batches, order):
        for row, label, mask, i in zip(x, y, m, k.tolist()):
            assert row[mask].tolist() == ids[i] and int(label) == labels[i]
            seen.append(i)
    assert sorted(seen) == list(range(len(sentences)))


def test_class_probs_come_back_in_input_order(model, tok, sentences):
    p = class_probs(model, tok, sentences[:12], batch_size=5)
    for s, row in zip(sentences[:12], p):
        one = model(input_ids=torch.tensor(encode_words(tok, [s])[0])).logits.softmax(-1)[0]
        assert torch.allclose(row, one, atol=1e-5)


def test_edited_attention_against_transformers_own_eager_attention(model, tok, sentences):
    batch = sentences[:4]
    (x, _, mask), _ = [t[0] for t in classification_batches(tok, batch, [0] * 4, shuffle=False)]
    ref = model(input_ids=x, attention_mask=mask.long(), output_attentions=True)
    with edited_attention(model, [], "uniform"):               # the registered function, no layer edited
        same = model(input_ids=x, attention_mask=mask.long(), output_attentions=True)
    torch.testing.assert_close(same.logits, ref.logits)
    with edited_attention(model, 1, "uniform"):
        uni = model(input_ids=x, attention_mask=mask.long(), output_attentions=True)
    w = uni.attentions[1]                                     # [B, H, T, T]
    n = mask.sum(1)
    for b in range(4):
        real = w[b][:, : n[b], : n[b]]
        assert torch.allclose(real, torch.full_like(real, 1.0 / int(n[b])))
        assert w[b][:, : n[b], n[b]:].abs().max() == 0 if n[b] < w.shape[-1] else True
    torch.testing.assert_close(uni.attentions[0], ref.attentions[0])           # layer 0 untouched
    with edited_attention(model, [0, 1], "permuted", seed=1):
        per = model(input_ids=x, attention_mask=mask.long(), output_attentions=True)
    for l in (0, 1):                                          # each row: the same weights, other keys
        a, b = ref.attentions[l][0, :, : n[0], : n[0]], per.attentions[l][0, :, : n[0], : n[0]]
        assert torch.allclose(a.sort(-1).values, b.sort(-1).values) and not torch.allclose(a, b)
    assert not torch.allclose(per.logits, ref.logits)
    assert model.config._attn_implementation == "eager"       # restored after the block
    with pytest.raises(ValueError, match="attention edit"):
        with edited_attention(model, 0, "zero"):
            pass


@torch.no_grad()
def test_pseudo_log_likelihood_by_hand(tok, sentences):
    mlm = masked_lm(roberta_config(tok, max_len=48, hidden=32, layers=1, heads=2, dropout=0.0), seed=1).eval()
    s = sentences[0]
    ids, word_ids = encode_words(tok, [s])
    ids, word_ids = ids[0], word_ids[0]
    total = 0.0
    for t in range(1, len(ids) - 1):                          # hide t and the rest of its word (PLL-word-l2r)
        x = list(ids)
        for u in range(t, len(ids) - 1):
            if u > t and word_ids[u] != word_ids[t]:
                break
            x[u] = tok.mask_token_id
        logits = mlm(input_ids=torch.tensor([x])).logits[0, t]
        total += logits.log_softmax(-1)[ids[t]].item()
    got = pseudo_log_likelihood(mlm, tok, [sentences[1], s, sentences[2]])
    assert got[1].item() == pytest.approx(total, abs=1e-3)


def test_word_importances_have_one_value_per_word(model, tok, sentences):
    e = explain(model, tok, sentences[0])
    n = len(sentences[0])
    assert e["attention"].shape == (2, n) and e["gradient"].shape == (n,) and e["loo"].shape == (n,)
    assert torch.allclose(e["prob"].sum(), torch.tensor(1.0)) and (e["loo"] >= 0).all()
    assert (e["attention"].sum(-1) <= 1 + 1e-5).all()          # a share of <s>'s attention, specials left out


def test_roberta_base_offline_gives_a_message_not_a_traceback(tmp_path):
    with pytest.raises(HubUnavailableError, match="not in the local Hugging Face cache"):
        load_pretrained("roberta-base", offline=True, cache_dir=tmp_path)        # never touches the network
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "TRANSFORMERS_VERBOSITY": "error"}
    code = ("from minilib.hf import load_pretrained, HubUnavailableError\n"
            "try:\n    load_pretrained('roberta-base')\nexcept HubUnavailableError as e:\n    print('MESSAGE:', e)")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "MESSAGE:" in r.stdout and "HF_HUB_OFFLINE is set" in r.stdout and "Traceback" not in r.stdout


def test_a_saved_model_folder_loads_through_the_same_function(model, tok, tmp_path):
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    m2, t2 = load_pretrained(str(tmp_path / "m"), offline=True)
    x = torch.tensor(encode_words(t2, [["the", "."]])[0])
    torch.testing.assert_close(m2(input_ids=x).logits, model(input_ids=x).logits)
    with pytest.raises(HubUnavailableError, match="not a saved model"):
        load_pretrained(str(tmp_path), offline=True)
