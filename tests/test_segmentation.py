"""Lab 5's pieces against references nobody here wrote, or against brute force.

- the Bayes boundary posterior (dynamic programming) = enumeration of every segmentation,
  with sentence probabilities from ``enumerate_sentences`` (the grammar's replay mode, not the
  scorer the DP uses), on the tiny language;
- the seed's parameter counts, exactly; padding changes nothing; the entropy term is what the
  docstring says, and lambda = 0 removes it;
- Pk and WindowDiff = ``nltk.metrics.segmentation``; P/R/F1 and ECE = ``torchmetrics``;
  NLL = ``torch.nn.functional.binary_cross_entropy``; temperature and Platt scaling recover
  known miscalibrations and temperature keeps every decision;
- a smoke run learns above chance, stops early with patience, resumes from its checkpoint,
  and its JSON record (with provenance) round-trips.
"""
import itertools
import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from minilib.data import SyntheticLanguage
from minilib.data.segment_posterior import boundary_posterior, sentence_logprob
from minilib.data.segmentation import SegmentationTask, hashed_features, make_streams, sample_stream
from minilib.metrics.calibration import brier, ece, fit_platt, fit_temperature, nll, sigmoid
from minilib.metrics.segmentation import boundary_prf, pk, segmentation_scores, windowdiff
from minilib.models.segmenter import BiLSTMSegmenter, SegmenterConfig, attention_entropy

nltk_seg = pytest.importorskip("nltk.metrics.segmentation", reason="nltk is in requirements.txt")
tm = pytest.importorskip("torchmetrics.functional.classification", reason="torchmetrics is in requirements.txt")


# ---------------------------------------------------------------- the Bayes posterior
def piece_probability(lang, piece, max_len):
    """q(piece) by the definition: the sentence is the piece plus "." or "!" (0 if impossible or too long)."""
    if not 1 <= len(piece) <= max_len:
        return 0.0
    return sum(math.exp(lang.logprob(list(piece) + [e])) for e in ".!" if lang.is_grammatical(list(piece) + [e]))


def brute_force_posterior(lang, tokens, K, joiner, max_len):
    """Sum over every choice of K - 1 boundary places of the product of the K pieces' probabilities."""
    N = len(tokens)
    places = [i for i, t in enumerate(tokens) if t == joiner] if joiner else list(range(N - 1))
    post, Z, q = np.zeros(N), 0.0, {}
    for cut in itertools.combinations(places, K - 1):
        p, start = 1.0, 0
        for c in list(cut) + [None]:
            stop = N if c is None else (c if joiner else c + 1)
            piece = tuple(tokens[start:stop])
            if piece not in q:
                q[piece] = piece_probability(lang, piece, max_len)
            p *= q[piece]
            start = stop + (1 if joiner else 0)
        Z += p
        post[list(cut)] += p
    return post / Z


@pytest.mark.parametrize("joiner, max_len", [("and", 40), ("and", 14), (None, 12)])
def test_posterior_equals_enumeration_of_all_segmentations(joiner, max_len):
    task = SegmentationTask(n_sentences=3, max_len=max_len, joiner=joiner)
    lang, rng, checked, ambiguous = task.language(), random.Random(5), 0, 0
    while checked < 3:
        tokens = sample_stream(task, rng).tokens
        if joiner and not 4 <= tokens.count(joiner) <= 9:   # "and" inside sentences too, few enough to enumerate
            continue
        want = brute_force_posterior(lang, tokens, 3, joiner, max_len)
        got = boundary_posterior(lang, tokens, 3, joiner=joiner, max_len=max_len)
        np.testing.assert_allclose(got, want, atol=1e-10)
        assert abs(sum(got) - 2) < 1e-9                   # the expected number of boundaries is K - 1
        ambiguous += any(0.01 < p < 0.99 for p in got)
        checked += 1
    assert ambiguous or joiner is None                    # the "and" task is really uncertain


def test_sentence_probability_is_the_enumerated_sum_over_end_marks():
    """q(body) from the scorer = the sum over the tiny language's enumerated sentences with that body."""
    lang = SyntheticLanguage.tiny()
    q = {}
    for toks, lp in lang.enumerate_sentences():
        q[tuple(toks[:-1])] = q.get(tuple(toks[:-1]), 0.0) + math.exp(lp)
    for body in sorted(q, key=q.get, reverse=True)[:40] + [("the", "steam")]:
        assert math.exp(sentence_logprob(lang, body)) == pytest.approx(q.get(body, 0.0), rel=1e-9, abs=1e-300)


def test_task_streams_labels_and_posterior():
    task = SegmentationTask()
    s = sample_stream(task, random.Random(0))
    assert "." not in s.tokens and "!" not in s.tokens
    assert sum(s.labels) == task.n_sentences - 1
    assert all(s.tokens[i] == "and" for i, y in enumerate(s.labels) if y)
    streams = make_streams(task, "test", 40)
    for st in streams:
        post = np.asarray(st.posterior)
        assert post[np.asarray(st.tokens) != "and"].max() == 0.0 and abs(post.sum() - 7) < 1e-9
    assert make_streams(task, "test", 40)[0].tokens == streams[0].tokens       # fixed per split
    with pytest.raises(ValueError, match="split"):
        make_streams(task, "valid", 3)
    f = hashed_features(["<PAD>", "cat", "cats"], 60)
    assert f.shape == (3, 60) and not f[0].any() and abs(np.linalg.norm(f[1]) - math.sqrt(60)) < 1e-4
    assert np.array_equal(hashed_features(["x", "cats"], 60)[1], f[2])            # spelling only


# ---------------------------------------------------------------- the model
def test_parameter_counts_are_the_seeds():
    feats = torch.zeros(10, 60)
    m = BiLSTMSegmenter(SegmenterConfig(vocab_size=10), feats)
    assert m.num_params() == 2_755_842
    assert m.param_counts() == {"lstm": 2_228_224, "attention": 526_592, "classifier": 1_026}
    assert sum(p.numel() for p in m.attn.parameters()) == 525_568 and sum(p.numel() for p in m.ln.parameters()) == 1024
    base = BiLSTMSegmenter(SegmenterConfig(vocab_size=10, attention=False), feats)
    assert base.num_params() == 2_228_224 + 1_026
    assert "features" not in dict(m.named_parameters()) and not m.features.requires_grad
    with pytest.raises(ValueError, match="divisible"):
        SegmenterConfig(d_attn=250)
    assert SegmenterConfig().position == "none" and not m.attn.rope           # the seed: no positional encoding
    with pytest.raises(ValueError, match="position"):
        SegmenterConfig(position="learned")
    with pytest.raises(ValueError, match="features"):
        BiLSTMSegmenter(SegmenterConfig(vocab_size=10), torch.zeros(9, 60))


def test_bilstm_equals_torch_packed_bidirectional_lstm():
    """Our BiLSTM with nn.LSTM(bidirectional=True)'s weights = that LSTM run on packed sequences."""
    from minilib.models.segmenter import BiLSTM
    torch.manual_seed(0)
    ref = torch.nn.LSTM(6, 5, num_layers=2, bidirectional=True, batch_first=True).double()
    ours = BiLSTM(6, 5, 2).double()
    with torch.no_grad():
        for layer in range(2):
            for mine, suffix in ((ours.fwd[layer], ""), (ours.bwd[layer], "_reverse")):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(mine, f"{name}_l0").copy_(getattr(ref, f"{name}_l{layer}{suffix}"))
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in ref.parameters())
    x, lengths = torch.randn(3, 9, 6, dtype=torch.float64), torch.tensor([9, 4, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, _ = torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=9)
    got = ours(x, lengths)
    real = torch.arange(9)[None, :] < lengths[:, None]
    torch.testing.assert_close(got[real], want[real], atol=1e-12, rtol=0)


def small_model(**kw):
    torch.manual_seed(0)
    cfg = SegmenterConfig(vocab_size=20, hidden=8, n_head=2, d_attn=8, attn_dropout=0.0, **kw)
    return BiLSTMSegmenter(cfg, torch.randn(20, 60)).eval()


def test_padding_changes_nothing():
    m = small_model()
    idx = torch.randint(1, 20, (1, 9))
    alone, _ = m(idx)
    batch = torch.zeros(2, 12, dtype=torch.long)
    batch[0, :9], batch[1] = idx[0], torch.randint(1, 20, (12,))
    with torch.no_grad():
        padded, _ = m(batch, pad_mask=batch != 0)
    torch.testing.assert_close(padded[0, :9], alone[0], atol=1e-6, rtol=0)


def test_entropy_term_definition_and_lambda_zero_switches_it_off(monkeypatch):
    idx = torch.randint(1, 20, (2, 7))
    pad = torch.ones(2, 7, dtype=torch.bool)
    pad[1, 4:] = False
    y = torch.randint(0, 2, (2, 7)).masked_fill(~pad, -100)
    m = small_model(entropy_lambda=0.08)
    logits, loss, w = m(idx, y, pad_mask=pad, return_weights=True)
    # R by hand: each real query row's entropy over the real keys / log(number of real keys), averaged
    rows = [-(w[b, h, i, :n] * w[b, h, i, :n].log()).sum() / math.log(n)
            for b, n in ((0, 7), (1, 4)) for h in range(2) for i in range(n)]
    R = torch.stack(rows).mean()
    torch.testing.assert_close(attention_entropy(w, pad), R)
    ce = F.cross_entropy(logits.reshape(-1, 2), y.reshape(-1), ignore_index=-100, label_smoothing=0.1)
    torch.testing.assert_close(loss, ce + 0.08 * R)
    assert 0 < R < 1
    # lambda = 0: the loss is the smoothed cross-entropy alone, and no weights are even computed
    m0 = small_model(entropy_lambda=0.0)
    m0.load_state_dict(m.state_dict())
    asked = []
    real = m0.attn.forward
    monkeypatch.setattr(m0.attn, "forward", lambda *a, **k: asked.append(k.get("return_weights")) or real(*a, **k))
    logits0, loss0 = m0(idx, y, pad_mask=pad)
    torch.testing.assert_close(loss0, ce)
    assert asked == [False]
    with pytest.raises(ValueError, match="entropy_lambda"):
        SegmenterConfig(entropy_lambda=-0.1)


# ---------------------------------------------------------------- metrics
def random_segmentations(n, rng, p=0.1):
    return [rng.random() < p for _ in range(n)]


def test_pk_and_windowdiff_equal_nltk():
    rng = random.Random(0)
    for trial in range(30):
        n = rng.randint(5, 80)
        ref, hyp = random_segmentations(n, rng), random_segmentations(n, rng, rng.choice([0.05, 0.2, 0.5]))
        rs, hs = "".join("1" if x else "0" for x in ref), "".join("1" if x else "0" for x in hyp)
        assert pk(ref, hyp) == pytest.approx(nltk_seg.pk(rs, hs), abs=1e-12)
        k = rng.randint(1, n)
        assert pk(ref, hyp, k) == pytest.approx(nltk_seg.pk(rs, hs, k), abs=1e-12)
        assert windowdiff(ref, hyp, k) == pytest.approx(nltk_seg.windowdiff(rs, hs, k), abs=1e-12)
        assert windowdiff(ref, hyp, k, weighted=True) == pytest.approx(
            nltk_seg.windowdiff(rs, hs, k, weighted=True), abs=1e-12)
    assert pk(ref, ref) == 0 and windowdiff(ref, ref, 3) == 0
    with pytest.raises(ValueError, match="unequal"):
        pk([0, 1], [0, 1, 0])


def test_boundary_prf_equals_torchmetrics():
    rng = np.random.default_rng(0)
    gold = [rng.random(n) < 0.1 for n in (30, 50, 7)]
    pred = [rng.random(len(g)) < 0.15 for g in gold]
    ours = boundary_prf(pred, gold)
    p, g = torch.tensor(np.concatenate(pred)).long(), torch.tensor(np.concatenate(gold)).long()
    assert ours["precision"] == pytest.approx(float(tm.binary_precision(p, g)))
    assert ours["recall"] == pytest.approx(float(tm.binary_recall(p, g)))
    assert ours["f1"] == pytest.approx(float(tm.binary_f1_score(p, g)))
    s = segmentation_scores(pred, gold)
    assert s["f1"] == ours["f1"] and 0 <= s["pk"] <= 1 and 0 <= s["windowdiff"] <= 1


def test_ece_nll_brier_equal_references():
    rng = np.random.default_rng(1)
    for n_bins in (15, 7):
        p = rng.beta(0.5, 2.0, 3000) * 0.999                # never exactly 1 (see calibration.ece)
        y = (rng.random(3000) < np.clip(p * 1.3, 0, 1)).astype(float)
        ref = tm.binary_calibration_error(torch.tensor(p), torch.tensor(y).long(), n_bins=n_bins, norm="l1")
        assert ece(p, y, n_bins) == pytest.approx(float(ref), abs=1e-9)
    assert nll(p, y) == pytest.approx(float(F.binary_cross_entropy(torch.tensor(p), torch.tensor(y))), abs=1e-9)
    assert brier(p, y) == pytest.approx(sum((a - b) ** 2 for a, b in zip(p, y)) / len(p))
    with pytest.raises(ValueError, match="sigmoid"):
        ece([1.5], [1])


def test_temperature_and_platt_recover_known_miscalibration():
    rng = np.random.default_rng(2)
    true_z = rng.normal(0, 2, 20_000)
    y = (rng.random(true_z.size) < sigmoid(true_z)).astype(float)
    over = 3.0 * true_z                                   # an overconfident model: temperature 3 undoes it
    t = fit_temperature(over, y)
    assert t.temperature == pytest.approx(3.0, rel=0.05)
    assert ((sigmoid(over) > 0.5) == (t(over) > 0.5)).all()          # no decision changes
    assert nll(t(over), y) < nll(sigmoid(over), y)
    grid = np.linspace(2.5, 3.5, 201)                     # brute force: the fitted T minimises the NLL
    assert abs(grid[np.argmin([nll(sigmoid(over / T), y) for T in grid])] - t.temperature) < 0.01
    shifted = 0.5 * true_z - 1.0                          # Platt undoes a scale and a shift: a = 2, b = 2
    pl = fit_platt(shifted, y)
    assert pl.a == pytest.approx(2.0, rel=0.05) and pl.b == pytest.approx(2.0, abs=0.1)
    assert ece(pl(shifted), y) < ece(sigmoid(shifted), y)


# ---------------------------------------------------------------- training runs (smoke scale)
def test_smoke_run_learns_stops_resumes_and_saves(tmp_path):
    from minilib.seglab import SegRun, run
    r = run("attention", "smoke", seed=0, progress=False)
    base_rate = np.mean([y for s in r.data["test"] for y in s.labels])
    constant_nll = -(base_rate * math.log(base_rate) + (1 - base_rate) * math.log(1 - base_rate))
    assert r.test["f1"] > 0.5                                      # chance (random at the base rate): ~0.04
    assert r.calibration["all"]["raw"]["nll"] < constant_nll
    assert r.n_params == sum(r.param_counts.values()) and r.bayes["at_best"]["f1"] > r.test["f1"] - 0.2
    cal = r.calibration["all"]
    assert cal["temperature"]["accuracy"] == cal["raw"]["accuracy"]
    assert r.provenance["threads"] == 1                             # smoke trains on one thread, and says so
    back = SegRun.load(r.save(tmp_path / "run.json"))
    assert back.history == r.history and back.provenance["commit"] and back.config["model"]["hidden"] == 24
    # patience: with a learning rate too small to change anything, dev F1 never improves after epoch 1
    tiny = dict(n_train=16, n_dev=8, n_test=8, max_epochs=5, patience=2)
    r2 = run("no_attention", "smoke", seed=0, progress=False, lr=1e-9, **tiny)
    assert len(r2.history) == 3 and r2.stopped_early and r2.best_epoch == 1
    # resume: a run interrupted after epoch 1 and restarted from its checkpoint ends as an uninterrupted one
    ck = tmp_path / "ck.pt"

    def stop(history):
        if len(history) == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run("attention", "smoke", seed=1, progress=False, checkpoint=str(ck), callback=stop, **dict(tiny, max_epochs=2))
    resumed = run("attention", "smoke", seed=1, progress=False, checkpoint=str(ck), **dict(tiny, max_epochs=2))
    straight = run("attention", "smoke", seed=1, progress=False, **dict(tiny, max_epochs=2))
    assert [h["dev_loss"] for h in resumed.history] == pytest.approx([h["dev_loss"] for h in straight.history])


# ---------------------------------------------------------------- Lab 5's exercise checkers
def test_ece_checker_accepts_the_solution_and_rejects_wrong_answers(capsys):
    from minilib.exercises import segmentation as ex

    def solution(p, y, n_bins):
        p, y = np.asarray(p), np.asarray(y)
        b = np.minimum((p * n_bins).astype(int), n_bins - 1)
        return sum(abs(p[b == i].mean() - y[b == i].mean()) * (b == i).mean() for i in range(n_bins) if (b == i).any())

    def unweighted(p, y, n_bins):                        # every non-empty bin counts the same
        p, y = np.asarray(p), np.asarray(y)
        b = np.minimum((p * n_bins).astype(int), n_bins - 1)
        return np.mean([abs(p[b == i].mean() - y[b == i].mean()) for i in range(n_bins) if (b == i).any()])
    assert ex.check_ece(solution)
    assert not ex.check_ece(unweighted)
    assert not ex.check_ece(lambda p, y, n: abs(np.mean(p) - np.mean(y)))   # one bin
    assert not ex.check_ece(None)
    assert "Hint" in capsys.readouterr().out


def test_expected_precision_checker(capsys):
    from minilib.exercises import segmentation as ex
    streams = make_streams(SegmentationTask(), "dev", 30)

    def solution(posteriors, t):
        p = np.concatenate(posteriors)
        return p[p > t].mean()

    def measured(posteriors, t):                         # uses the labels: not what the posterior expects
        return np.mean([y for s in streams for q, y in zip(s.posterior, s.labels) if q > t])
    assert ex.check_expected_precision(solution, streams)
    assert ex.check_expected_precision(solution, streams, threshold=0.3)
    assert not ex.check_expected_precision(measured, streams)
    assert not ex.check_expected_precision(lambda post, t: 0.5, streams)
    assert not ex.check_expected_precision(None, streams)
    assert "Hint" in capsys.readouterr().out


# ---------------------------------------------------------------- Lab 5's reading of the heads, and its panel
def test_head_focus_tells_one_token_from_uniform_and_weak_heads():
    from minilib.seglab import describe_heads, head_focus
    T = 50
    one = torch.zeros(T, T)
    one[:, 7] = 1.0                                          # every query reads token 7
    uniform = torch.full((T, T), 1 / T)
    weak = torch.full((T, T), 0.5 / (T - 1))
    weak[:, 3] = 0.5 / (T - 1) + 0.1                         # every query leans on token 3, weakly
    weak = weak / weak.sum(-1, keepdim=True)
    mixed = torch.eye(T) * 0.6 + 0.4 / T                     # each query on itself
    focus = head_focus(torch.stack([one, uniform, weak, mixed]))
    assert [f["kind"] for f in focus] == ["one token", "near uniform", "leaning on one token", "mixed"]
    assert focus[0]["key"] == 7 and focus[0]["share"] == 1.0 and focus[0]["mean_max"] == pytest.approx(1.0)
    assert focus[1]["uniform"] == pytest.approx(1 / T) and focus[2]["key"] == 3
    assert describe_heads(focus[:1] * 2).startswith("every head, from (almost) every query, reads one")
    assert describe_heads(focus).startswith("the heads differ: head 0: one token; head 1: near uniform")


def test_seg_panel_draws_its_own_short_progress_line():
    import ipywidgets as W
    from minilib.seglab.panel import SegPanel
    panel = SegPanel(variants=("no_attention",), scale="smoke")
    tiny = dict(n_train=16, n_dev=8, n_test=8)
    panel.epochs.value = 2
    panel.run(progress=True, **tiny)                         # the panel's own line, never tqdm's
    (bar, text), = panel.lines
    assert isinstance(bar, W.IntProgress) and bar.value == bar.max == 2
    assert "no_attention: 2 epochs" in text.value and len(text.value) < 100
