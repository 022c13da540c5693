"""MiniBERT against Hugging Face's BertForMaskedLM (same weights, same logits), and MLM masking."""
import pytest
import torch

from minilib.data import Batch, MLMBatches, Tokenizer, mask_tokens, make_batches
from minilib.data.mlm import encoder_rows
from minilib.models import BERTConfig, MiniBERT
from minilib.models.hf_weights import to_hf_bert
from minilib.train import TrainConfig, train

transformers = pytest.importorskip("transformers", reason="transformers is installed with bertviz (requirements.txt)")


def perturbed(m):
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
    return m.eval()


@pytest.mark.parametrize("fast", [True, False])
def test_minibert_logits_equal_hugging_face_bert(fast):
    m = perturbed(MiniBERT(BERTConfig(vocab_size=60, block_size=16, n_layer=2, n_head=4, n_embd=32, fast=fast)))
    hf = to_hf_bert(m)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 60, (3, 12), generator=g)
    seg = (torch.arange(12) >= 6).long().expand(3, 12)
    pad = torch.ones(3, 12, dtype=torch.bool)
    pad[1, 8:], pad[2, 3:] = False, False
    with torch.no_grad():
        ours, _ = m(idx, pad_mask=pad, segments=seg)
        theirs = hf(idx, attention_mask=pad.long(), token_type_ids=seg).logits
    assert ours.abs().max() > 1
    torch.testing.assert_close(ours[pad], theirs[pad], atol=1e-5, rtol=0)
    assert m.head.decoder.weight is m.tok_emb.weight                  # tied, as BERT's are


def test_padding_content_does_not_matter_and_qkv_modes_run():
    for qkv in ("separate", "shared_qk", "shared_qkv"):
        m = MiniBERT(BERTConfig(vocab_size=30, block_size=10, n_layer=1, n_head=2, n_embd=16, qkv=qkv)).eval()
        idx = torch.randint(4, 30, (2, 10))
        pad = torch.ones(2, 10, dtype=torch.bool)
        pad[1, 6:] = False
        other = idx.clone()
        other[1, 6:] = 0
        a, _ = m(idx, pad_mask=pad)
        b, _ = m(other, pad_mask=pad)
        torch.testing.assert_close(a[pad], b[pad])
        q, k, v = m.qkv(idx, 0, pad)
        assert (q is k) == (qkv != "separate") and (k is v) == (qkv == "shared_qkv")
    with pytest.raises(ValueError, match="causal-LM pitfall"):
        BERTConfig(masking="zero")


TOK = Tokenizer([f"w{i}" for i in range(96)]).with_mask()        # ids 4..99 words, 100 = <MASK>
SPECIAL = (TOK.pad_id, TOK.start_id, TOK.stop_id)


def test_80_10_10_rule_and_what_is_never_chosen():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 100, (400, 50), generator=g)
    ids[:, 0], ids[:, -1] = TOK.start_id, TOK.stop_id
    pad = torch.ones_like(ids, dtype=torch.bool)
    pad[::2, 40:] = False
    ids[~pad] = TOK.pad_id
    b = mask_tokens(ids, pad, mask_id=TOK.mask_id, vocab_size=TOK.vocab_size, special_ids=SPECIAL, generator=g)
    chosen = b.targets != -100
    assert torch.equal(b.targets[chosen], ids[chosen])               # targets are the originals
    assert not chosen[~pad].any() and not chosen[:, 0].any() and not chosen[:, -1].any()
    maskable = int(pad.sum()) - 2 * 400
    n = int(chosen.sum())
    assert abs(n / maskable - 0.15) < 4 * (0.15 * 0.85 / maskable) ** 0.5
    masked = (b.idx == TOK.mask_id) & chosen
    kept = (b.idx == ids) & chosen
    rand = chosen & ~masked & ~kept
    for share, want in ((masked, 0.8), (rand, 0.1 * 95 / 96), (kept, 0.1 + 0.1 / 96)):
        assert abs(int(share.sum()) / n - want) < 4 * (want * (1 - want) / n) ** 0.5
    assert not torch.isin(b.idx[rand], torch.tensor([*SPECIAL, TOK.mask_id])).any()
    assert torch.equal(b.idx[~chosen], ids[~chosen])                 # nothing else changes


def test_static_dynamic_and_whole_word():
    rows = [TOK.encode([f"w{(i * 7 + j) % 96}" for j in range(3 + i % 9)], add_special=True) for i in range(64)]
    batches = make_batches(rows, batch_size=16, max_len=20, shuffle=False, bucket=False)
    ids, mask = encoder_rows(batches[0])
    assert [r[: int(m.sum())] for r, m in zip(ids.tolist(), mask)] == [rows[i] for i in range(16)]
    kw = dict(tokenizer=TOK, mask_id=TOK.mask_id, vocab_size=TOK.vocab_size, epochs=3, seed=1)
    static, dynamic = MLMBatches(batches, strategy="static", **kw), MLMBatches(batches, strategy="dynamic", **kw)
    assert len(static) == 3 * len(batches)
    assert torch.equal(static[0].targets, static[len(batches)].targets)       # epoch 0 == epoch 1
    assert not torch.equal(dynamic[0].targets, dynamic[len(batches)].targets)
    assert torch.equal(dynamic[5].idx, dynamic[5].idx)                        # reproducible
    assert ((dynamic[0].targets != -100).sum(1) >= 1).all()                   # every row predicts something
    # whole words: tokens 1-2, 3-4, ... of each row form words (pairs); a chosen word is chosen whole
    words = []
    for b in batches:
        T = b.idx.shape[1] + 1
        w = ((torch.arange(T) - 1) // 2).expand(b.idx.shape[0], T).clone()
        w[:, 0] = -1
        words.append(w)
    ww = MLMBatches(batches, strategy="whole_word", word_ids=words, p=0.3, **kw)
    for i in range(len(batches)):
        chosen = ww[i].targets != -100
        real = encoder_rows(batches[i])[1] & ~torch.isin(encoder_rows(batches[i])[0], torch.tensor(SPECIAL))
        for r in range(chosen.shape[0]):
            for wid in words[i][r][chosen[r]].unique():
                piece = (words[i][r] == wid) & real[r]
                assert chosen[r][piece].all()
    with pytest.raises(ValueError, match="needs word_ids"):
        MLMBatches(batches, strategy="whole_word", **kw)
    with pytest.raises(ValueError, match="valid choices are 'static', 'dynamic', 'whole_word'"):
        MLMBatches(batches, strategy="random", **kw)


def test_minibert_learns_mlm_on_a_copy_task():
    """Rows whose second half repeats the first: a masked token is predictable from its twin."""
    g = torch.Generator().manual_seed(0)
    half = torch.randint(4, 100, (256, 6), generator=g)
    rows = [[TOK.start_id, *h.tolist(), *h.tolist(), TOK.stop_id] for h in half]
    batches = make_batches(rows, batch_size=32, max_len=20, shuffle=False, bucket=False)
    data = MLMBatches(batches, tokenizer=TOK, mask_id=TOK.mask_id, vocab_size=TOK.vocab_size, epochs=120)
    torch.manual_seed(0)
    m = MiniBERT(BERTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=32, dropout=0.0))
    hist = train(m, data, TrainConfig(lr=1e-2, steps=len(data), warmup=0.05, device="cpu", progress=False))
    first, last = sum(hist.losses[:10]) / 10, sum(hist.losses[-10:]) / 10
    assert first > 4.0 and last < 1.2, (first, last)                 # ln 96 = 4.56: from chance to copying


def test_batch_type_is_what_train_expects():
    assert Batch._fields == ("idx", "targets", "pad_mask")
