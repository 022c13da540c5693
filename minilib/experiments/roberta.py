"""Lab 6's engine: your own RoBERTa, pretrained by masked-language modelling and fine-tuned to tell grammatical
sentences from ungrammatical ones (seed 002, part 3), with the Hugging Face stack.

One run, step by step (each step is a function the lab calls in its own cell):

1. ``prepare``: the synthetic corpus, a byte-level BPE tokenizer trained on it (``minilib.hf.tokenizer``),
   and minimal pairs for training and testing (``minilib.data.minimal_pairs``; test pairs come from
   their own stream of sentences);
2. ``pretrain``: a small ``RobertaForMaskedLM`` trained by MLM on the corpus (``transformers``' collator
   masks, ``minilib.train.train`` trains);
3. ``finetune``: a ``RobertaForSequenceClassification`` trained to say grammatical (1) or not (0) on
   both sentences of every training pair, starting from the pretrained encoder (variant
   ``pretrained``) or from scratch (variant ``scratch``); the same function fine-tunes ``roberta-base``;
4. ``evaluate``: accuracy on the test pairs by construction, by distance between the agreeing words and
   by attractors; ``blimp``: the masked LM's own preference (pseudo-log-likelihood) on the same pairs;
5. ``explanation``: is attention an explanation? (``minilib.hf.importance``, ``minilib.metrics.explanation``).

``run(variant, scale, seed)`` does all of it and returns a ``RobertaRun`` (saved by ``python -m
minilib.experiments roberta``, ``make reproduce``); ``trained(scale)`` gives chapter 6 a fine-tuned
classifier, from the disk cache when one was trained with the same settings before.
"""
from __future__ import annotations

import functools
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import data as D
from ..choices import check_choice
from ..data.minimal_pairs import AGREEMENT, minimal_pairs
from ..provenance import provenance
from ..results import RESULTS_DIR, RunRecord, RunResult
from ..scale import resolve_scale
from ..train import TrainConfig, train

EXPERIMENT = "roberta"
VARIANTS = ("pretrained", "scratch")
DISTANCES = ((1, 1), (2, 2), (3, 4), (5, 7), (8, 10**9))        # buckets of target - controller, in words
SCALE_SETTINGS = {   # max_len: tokens per row (pretraining rows are cut there); max_words: words per pair sentence
    "smoke": dict(n_train_tokens=20_000, n_types=200, bpe_vocab=400, max_len=40, max_words=16, hidden=32, layers=2,
                  heads=2, batch_size=32, mlm_epochs=8, mlm_lr=3e-3, train_pairs=350, test_pairs=140, ft_epochs=1,
                  ft_lr=1e-3, explain_pairs=8),
    "cpu": dict(n_train_tokens=150_000, n_types=200, bpe_vocab=500, max_len=40, max_words=16, hidden=64, layers=2,
                heads=4, batch_size=32, mlm_epochs=30, mlm_lr=2e-3, train_pairs=20_000, test_pairs=700, ft_epochs=4,
                ft_lr=1e-3, explain_pairs=100),
    "paper": dict(n_train_tokens=1_000_000, n_types=200, bpe_vocab=1_000, max_len=40, max_words=16, hidden=256,
                  layers=4, heads=4, batch_size=64, mlm_epochs=20, mlm_lr=5e-4, train_pairs=50_000, test_pairs=2_100,
                  ft_epochs=4, ft_lr=2e-4, explain_pairs=300),
}
DATA_KEYS = ("n_train_tokens", "n_types", "bpe_vocab", "max_len", "max_words", "train_pairs", "test_pairs")
MODEL_KEYS = ("hidden", "layers", "heads")
_FORMAT = 1                          # bump when a change makes cached models stale


@dataclass
class RobertaRun(RunRecord):
    """One pretrain-and-fine-tune run (``variant``: pretrained or scratch): ``RunRecord``'s fields, then these."""
    pretrain: dict                    # steps, seconds, losses, dev MLM loss, BLiMP-style preference (pretrained only)
    finetune: dict                    # steps, seconds, losses
    test: dict                        # accuracy and pair accuracy, by construction, distance and attractors
    explanation: dict = field(default_factory=dict)


def settings(scale="auto", **overrides) -> dict:
    s = dict(SCALE_SETTINGS[resolve_scale(scale)])
    unknown = set(overrides) - set(s)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid ones are {sorted(s)}")
    return s | overrides


def _n(k, noun) -> str:
    return f"{k:,} {noun}" + ("" if k == 1 else "s")


def scale_note(scale) -> str:
    """One sentence (Markdown) on what a scale means here. The pair counts are the numbers requested: a pair is
    kept only if both its sentences fit in ``max_len`` tokens, so ``prepare`` may return a few fewer."""
    scale = resolve_scale(scale)
    s = SCALE_SETTINGS[scale]
    return (f"`{scale}` scale: the synthetic language with {s['n_types']:,} word types, {s['n_train_tokens']:,} "
            f"training words for pretraining ({_n(s['mlm_epochs'], 'epoch')}), a BPE vocabulary of "
            f"{s['bpe_vocab']:,}; a RoBERTa with {_n(s['layers'], 'layer')}, {_n(s['heads'], 'head')} and width "
            f"{s['hidden']}; up to {s['train_pairs']:,} training and {s['test_pairs']:,} test minimal pairs of at "
            f"most {s['max_words']} words (a pair is kept if both sentences fit in {s['max_len']} BPE tokens).")


@functools.lru_cache(maxsize=2)
def _prepare(n_train_tokens, n_types, bpe_vocab, max_len, max_words, train_pairs, test_pairs):
    from ..hf.tokenizer import encode_words, train_tokenizer
    corpus = D.load_corpus("synthetic", n_train_tokens=n_train_tokens, n_types=n_types, dev_fraction=0.05)
    tok = train_tokenizer(corpus.train, vocab_size=bpe_vocab, max_len=max_len)
    lang = corpus.language

    def fitting(pairs):              # both sentences whole within max_len tokens (a cut sentence has no label)
        ids, _ = encode_words(tok, [s for p in pairs for s in (p.good, p.bad)])
        return [p for p, a, b in zip(pairs, ids[0::2], ids[1::2]) if max(len(a), len(b)) <= max_len]
    return {"corpus": corpus, "tokenizer": tok,
            "train_pairs": fitting(minimal_pairs(lang, train_pairs, seed=1, max_words=max_words)),
            "test_pairs": fitting(minimal_pairs(lang, test_pairs, seed=2, max_words=max_words))}


def prepare(scale="auto", **overrides) -> dict:
    """Settings, corpus, tokenizer, training and test pairs of a scale (cached per process)."""
    s = settings(scale, **overrides)
    return {"settings": s, **_prepare(*(s[k] for k in DATA_KEYS))}


def _train_config(lr, progress, warmup) -> TrainConfig:
    # RoBERTa's recipe, small: AdamW with beta2 0.98, weight decay 0.01, warmup then linear decay to 0
    return TrainConfig(lr=lr, warmup=warmup, schedule="linear", min_lr_ratio=0.0, betas=(0.9, 0.98),
                       weight_decay=0.01, progress=progress, log_every=25)


def pretrain(d, seed=0, *, progress=True, callback=None):
    """``(masked_lm, history)``: a fresh ``RobertaForMaskedLM`` trained by MLM on the corpus."""
    from ..hf.batches import mlm_batches
    from ..hf.models import ForTrain, masked_lm, roberta_config
    s, tok = d["settings"], d["tokenizer"]
    batches = mlm_batches(tok, d["corpus"].train, batch_size=s["batch_size"], max_len=s["max_len"],
                          epochs=s["mlm_epochs"], seed=seed)
    model = masked_lm(roberta_config(tok, max_len=s["max_len"], **{k: s[k] for k in MODEL_KEYS}), seed)
    hist = train(ForTrain(model), batches, _train_config(s["mlm_lr"], progress, 0.05), callback=callback)
    return model, hist


def pair_sentences(pairs) -> tuple[list, list]:
    """Both sentences of every pair, good (label 1) then bad (label 0)."""
    return [s for p in pairs for s in (p.good, p.bad)], [y for _ in pairs for y in (1, 0)]


def finetune(d, seed=0, *, encoder_from=None, model=None, tokenizer=None, progress=True, callback=None):
    """``(classifier, history)``: fine-tuned on both sentences of every training pair. The classifier is new (from
    ``encoder_from``'s encoder if given, else from scratch) unless ``model`` (e.g. ``roberta-base``, with its
    ``tokenizer``) is given."""
    from ..hf.batches import classification_batches
    from ..hf.models import ForTrain, classifier, roberta_config
    s = d["settings"]
    tok = tokenizer or d["tokenizer"]
    if model is None:
        model = classifier(roberta_config(tok, max_len=s["max_len"], **{k: s[k] for k in MODEL_KEYS}), seed,
                           encoder_from=encoder_from)
    sents, labels = pair_sentences(d["train_pairs"])
    batches = [b for epoch in range(s["ft_epochs"])                  # reshuffled every epoch
               for b in classification_batches(tok, sents, labels, batch_size=s["batch_size"], max_len=s["max_len"],
                                               seed=seed * 1_000 + epoch)[0]]
    hist = train(ForTrain(model), batches, _train_config(s["ft_lr"], progress, 0.1), callback=callback)
    return model, hist


def _bucket(distance) -> str:
    lo, hi = next(b for b in DISTANCES if b[0] <= distance <= b[1])
    return str(lo) if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f"{lo}+")


def by_group(pairs, values, key) -> dict:
    """``{group: {"mean", "n"}}`` of per-pair ``values`` grouped by ``key(pair)``."""
    groups: dict = {}
    for p, v in zip(pairs, values):
        groups.setdefault(key(p), []).append(float(v))
    return {g: {"mean": sum(v) / len(v), "n": len(v)} for g, v in groups.items()}


def pair_scores(pairs, good, bad) -> dict:
    """Per-pair ``right`` (good scored above bad) overall and by construction, distance bucket and (agreement
    pairs only) attractors; ``scores``: each pair's two scores, so that any other grouping can be made later."""
    right = [float(g > b) for g, b in zip(good, bad)]
    agreement = [(p, r) for p, r in zip(pairs, right) if p.construction in AGREEMENT]
    return {"pair_accuracy": sum(right) / len(right),
            "by_construction": by_group(pairs, right, lambda p: p.construction),
            "by_distance": by_group(pairs, right, lambda p: _bucket(p.distance)),
            "by_attractors": by_group([p for p, _ in agreement], [r for _, r in agreement],
                                      lambda p: "0" if p.attractors == 0 else "1+"),
            "scores": [[round(float(g), 4), round(float(b), 4)] for g, b in zip(good, bad)]}


def evaluate(model, tokenizer, pairs, max_len=None) -> dict:
    """The classifier on the test pairs: sentence accuracy and pair accuracy (p(good | good) > p(good | bad)),
    by construction, by distance and by attractors."""
    from ..hf.scoring import class_probs
    sents, labels = pair_sentences(pairs)
    p = class_probs(model, tokenizer, sents, max_len=max_len)[:, 1]
    correct = ((p > 0.5).long() == torch.tensor(labels)).float().tolist()
    per_pair = [(a + b) / 2 for a, b in zip(correct[0::2], correct[1::2])]
    return {"accuracy": sum(correct) / len(correct), **pair_scores(pairs, p[0::2].tolist(), p[1::2].tolist()),
            "sentence_accuracy_by_construction": by_group(pairs, per_pair, lambda q: q.construction)}


def blimp(masked_lm, tokenizer, pairs, max_len=None) -> dict:
    """The masked LM's preference on the test pairs: PLL(good) > PLL(bad), overall and by group."""
    from ..hf.scoring import pseudo_log_likelihood
    good = pseudo_log_likelihood(masked_lm, tokenizer, [p.good for p in pairs], max_len=max_len)
    bad = pseudo_log_likelihood(masked_lm, tokenizer, [p.bad for p in pairs], max_len=max_len)
    return pair_scores(pairs, good.tolist(), bad.tolist())


def _history(h) -> dict:
    step = max(1, len(h.losses) // 400)                  # at most ~400 points stored
    return {"steps": h.step, "seconds": h.train_seconds, "median_step_ms": h.median_step_ms,
            "losses": [round(sum(h.losses[i:i + step]) / len(h.losses[i:i + step]), 4)
                       for i in range(0, len(h.losses), step)], "loss_every": step}


def run(variant="pretrained", scale="auto", seed=0, *, progress=True, explain=True, **overrides) -> RobertaRun:
    """Pretrain (variant ``pretrained``) and fine-tune one classifier, and measure it on the test pairs."""
    from ..hf.batches import mlm_batches
    from ..hf.models import n_params
    from ..hf.scoring import mlm_loss, unigram_loss
    from .roberta_explain import explanation
    check_choice("variant", variant, VARIANTS)
    scale = resolve_scale(scale)
    d = prepare(scale, **overrides)
    s, tok, t0 = d["settings"], d["tokenizer"], time.perf_counter()
    pre, mlm = {}, None
    if variant == "pretrained":
        mlm, h = pretrain(d, seed, progress=progress)
        dev = mlm_batches(tok, d["corpus"].dev, batch_size=64, max_len=s["max_len"], seed=10_007)
        pre = _history(h) | {"dev_mlm_loss": mlm_loss(mlm, dev),
                             "unigram_loss": unigram_loss(tok, d["corpus"].train, dev),
                             "blimp": blimp(mlm, tok, d["test_pairs"])}
    clf, h = finetune(d, seed, encoder_from=mlm, progress=progress)
    result = RobertaRun(
        experiment=EXPERIMENT, variant=variant, scale=scale, seed=seed, config=dict(s),
        n_params=n_params(clf), provenance=provenance(next(clf.parameters()).device),
        train_seconds=time.perf_counter() - t0, pretrain=pre, finetune=_history(h),
        test=evaluate(clf, tok, d["test_pairs"]),
        explanation=explanation(clf, tok, d["test_pairs"][: s["explain_pairs"]]) if explain else {})
    result.model, result.masked_lm, result.tokenizer = clf, mlm, tok      # not saved: to look at
    return result


def load(scale="cpu", directory=RESULTS_DIR) -> list:
    """The stored runs of one scale, sorted by variant and seed."""
    runs = [RobertaRun.load(p) for p in sorted(Path(directory).glob(f"{EXPERIMENT}_*_{scale}_seed*.json"))]
    return sorted((r for r in runs if r.experiment == EXPERIMENT), key=lambda r: (VARIANTS.index(r.variant), r.seed))


def cache_dir(scale, seed, variant="pretrained", **overrides) -> Path:
    """Where ``trained`` keeps a fine-tuned classifier of these settings."""
    s = settings(scale, **overrides)
    key = hashlib.sha1(json.dumps([_FORMAT, variant, seed, s], sort_keys=True).encode()).hexdigest()[:12]
    return D.default_cache_dir() / "roberta" / f"{resolve_scale(scale)}-{variant}-seed{seed}-{key}"


def trained(scale="auto", seed=0, variant="pretrained", *, progress=True, **overrides):
    """``(classifier, tokenizer, data)``: loaded from the disk cache if this exact run was made before, else
    trained now (``run``, without the explanation study) and cached. The classifier runs eager attention."""
    from transformers import AutoTokenizer, RobertaForSequenceClassification
    from ..hf.hub import quiet
    d = prepare(scale, **overrides)
    path = cache_dir(scale, seed, variant, **overrides)
    if not (path / "config.json").exists():
        r = run(variant, scale, seed, progress=progress, explain=False, **overrides)
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        r.model.save_pretrained(tmp)
        r.tokenizer.save_pretrained(tmp)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
    with quiet():
        model = RobertaForSequenceClassification.from_pretrained(path, attn_implementation="eager")
        tokenizer = AutoTokenizer.from_pretrained(path)
    return model.eval(), tokenizer, d


def main(argv=None):
    """``python -m minilib.experiments roberta --scale cpu --seeds 0 1 2``."""
    from .cli import parser, store_runs
    args = parser("python -m minilib.experiments roberta", "Pretrain and fine-tune the course's RoBERTa; "
                  "store the reference runs.", VARIANTS).parse_args(argv)
    store_runs(args.seeds, lambda seed: [(RunResult.path_for(EXPERIMENT, v, args.scale, seed),
                                          functools.partial(run, v, args.scale, seed, progress=False))
                                         for v in args.variants],
               skip_existing=args.skip_existing,
               describe=lambda r: f"{r.train_seconds:.0f} s, test accuracy {r.test['accuracy']:.3f}, "
               f"pair accuracy {r.test['pair_accuracy']:.3f}")
