"""Which tokens should MLM hide? Static, dynamic and whole-word masking measured on MiniBERT (seed 001).

The seed's review asks for "dynamic masking per epoch" and "whole word masking" in place of a
mask drawn once. Here the three strategies of ``minilib.data.MLMBatches`` train the same MiniBERT
on the same sub-word tokens (a unigram vocabulary trained on the synthetic corpus, so many
words span several pieces) for the same number of steps, and are scored on the same held-out masks:

- ``dev_loss`` / ``dev_accuracy``: cross-entropy and accuracy on dev sentences masked token by
  token (BERT's 15%, 80/10/10), the usual MLM score;
- ``word_loss`` / ``word_accuracy``: on dev sentences masked whole-word; a masked word counts as
  right only if every one of its pieces is predicted (argmax) right.

Every strategy sees each sentence ``epochs`` times. ``static`` hides the same tokens each time
(masked once, as BERT's original pre-processing before it duplicated the data), ``dynamic``
draws new ones every epoch (RoBERTa), ``whole_word`` draws whole words every epoch.

    r = run("dynamic", scale="smoke", seed=0)              # a MaskingRun
    table = verdicts(load("cpu"))                           # claimed -> measured, from 3 seeds

``python -m minilib.experiments masking_strategies --scale cpu --seeds 0 1 2`` remakes the
stored runs (``minilib/reference_runs/mlm_masking_<strategy>_<scale>_seed<k>.json``).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import data as D
from ..data.subword import SubwordTokenizer, subword_batches
from ..choices import check_choice
from ..device import seed_everything
from ..metrics.stats import welch
from ..models import BERTConfig, MiniBERT
from ..provenance import provenance
from ..results import RESULTS_DIR, RunRecord, RunResult, spread
from ..scale import resolve_scale
from ..tables import Table
from ..train import TrainConfig, tail_mean, train

EXPERIMENT = "mlm_masking"            # file prefix; not "masking_", which is lab 3's
STRATEGIES = D.mlm.STRATEGIES         # ("static", "dynamic", "whole_word")
DEV_SEED = 10_007                     # the held-out masks: the same for every strategy and seed

SCALE_SETTINGS = {
    "smoke": dict(n_train_tokens=6_000, n_types=200, dev_fraction=0.3, subword_vocab=150, max_len=32, batch_size=16,
                  n_layer=1, n_head=2, n_embd=32, lr=3e-3, epochs=3, dev_draws=1),
    "cpu": dict(n_train_tokens=60_000, n_types=1_000, dev_fraction=0.4, subword_vocab=600, max_len=64, batch_size=32,
                n_layer=2, n_head=4, n_embd=64, lr=2e-3, epochs=30, dev_draws=3),
    "paper": dict(n_train_tokens=300_000, n_types=2_000, dev_fraction=0.2, subword_vocab=1_000, max_len=100,
                  batch_size=32, n_layer=4, n_head=4, n_embd=128, lr=1e-3, epochs=40, dev_draws=3),
}
DATA_KEYS = ("n_train_tokens", "n_types", "dev_fraction", "subword_vocab", "max_len", "batch_size")
MODEL_KEYS = ("n_layer", "n_head", "n_embd")

CLAIMS = [  # (claim from seed 001's review, metric, better variant, worse variant, lower is better?)
    ("dynamic masking (new mask every epoch) beats static masking", "dev_loss", "dynamic", "static", True),
    ("dynamic masking beats static masking: token accuracy", "dev_accuracy", "dynamic", "static", False),
    ("whole-word masking helps predict whole masked words", "word_accuracy", "whole_word", "dynamic", False),
    ("whole-word masking helps on whole masked words: loss", "word_loss", "whole_word", "dynamic", True),
]


@dataclass
class MaskingRun(RunRecord):
    """One MLM run of a masking strategy (``variant`` is the strategy): ``RunRecord``'s fields, then these."""
    steps: int
    losses: list                        # train loss of every step (each strategy's own targets)
    dev_loss: float
    dev_accuracy: float
    word_loss: float
    word_accuracy: float
    data: dict = field(default_factory=dict)   # vocabulary size, share of words split, dev targets

    @property
    def final_train_loss(self) -> float:
        """Mean training loss over the last 5% of steps (on this strategy's own training masks)."""
        return tail_mean(self.losses, 0.05) if self.losses else float("nan")


def settings(scale="auto", **overrides) -> dict:
    s = dict(SCALE_SETTINGS[resolve_scale(scale)])
    unknown = set(overrides) - set(s)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid ones are {sorted(s)}")
    return s | overrides


@functools.lru_cache(maxsize=2)
def prepare_data(n_train_tokens, n_types, dev_fraction, subword_vocab, max_len, batch_size, data_seed=0):
    """The corpus, its sub-word tokenizer, and the fixed dev batches with their word ids (cached per process)."""
    corpus = D.load_corpus("synthetic", n_train_tokens=n_train_tokens, n_types=n_types, dev_fraction=dev_fraction,
                           seed=data_seed)
    sub = SubwordTokenizer.train(corpus.train, vocab_size=subword_vocab)
    dev, dev_words = subword_batches(sub, corpus.dev, batch_size=batch_size, max_len=max_len, shuffle=False)
    words = [w for s in corpus.dev for w in s]
    split = sum(len(sub.pieces(w)) > 1 for w in set(words))
    counts = {w: 0 for w in set(words)}
    for w in words:
        counts[w] += 1
    split_tokens = sum(n for w, n in counts.items() if len(sub.pieces(w)) > 1)
    info = {"vocab_size": sub.vocab_size, "dev_sentences": len(corpus.dev), "train_sentences": len(corpus.train),
            "dev_word_types_split": split / len(counts), "dev_words_split": split_tokens / len(words)}
    return {"corpus": corpus, "tok": sub, "dev": dev, "dev_words": dev_words, "info": info}


def dev_sets(d, draws):
    """Held-out MLM batches: ``draws`` token-level maskings and as many whole-word ones, fixed by ``DEV_SEED``."""
    tok = d["tok"]
    kw = dict(tokenizer=tok, mask_id=tok.mask_id, vocab_size=tok.vocab_size, epochs=draws, seed=DEV_SEED)
    tokens = D.MLMBatches(d["dev"], strategy="dynamic", **kw)
    words = D.MLMBatches(d["dev"], strategy="whole_word", word_ids=d["dev_words"], **kw)
    return list(tokens), [(words[i], d["dev_words"][i % len(d["dev"])]) for i in range(len(words))]


@torch.no_grad()
def mlm_scores(model, batches, device=None) -> dict:
    """Mean cross-entropy and accuracy over the targets of ``batches``; with ``(batch, word_ids)`` pairs, also
    the share of masked words whose every piece is predicted right."""
    device = device or next(model.parameters()).device
    was = model.training
    model.eval()
    loss = right = n = words = words_right = 0.0
    for item in batches:
        b, wid = (item, None) if isinstance(item, D.MLMBatch) else item
        idx, targets, pad = (t.to(device) for t in b)
        logits, _ = model(idx, pad_mask=pad)
        valid = targets != -100
        loss += float(F.cross_entropy(logits[valid].float(), targets[valid], reduction="sum"))
        ok = logits.argmax(-1) == targets
        right += float((ok & valid).sum())
        n += float(valid.sum())
        if wid is not None:
            wid = wid.to(device)
            key = (torch.arange(len(wid), device=device)[:, None] * (int(wid.max()) + 2) + wid)[valid & (wid >= 0)]
            bad = key[~ok[valid & (wid >= 0)]]
            words += len(key.unique())
            words_right += len(key.unique()) - len(bad.unique())
    model.train(was)
    out = {"loss": loss / n, "accuracy": right / n, "targets": int(n)}
    if words:
        out |= {"word_accuracy": words_right / words, "words": int(words)}
    return out


def training_data(strategy, scale="auto", seed=0, **overrides):
    """``(settings, data, batches, model_config)`` of one run: ``batches`` is the ``MLMBatches`` it trains on."""
    check_choice("strategy", strategy, STRATEGIES)
    s = settings(scale, **overrides)
    d = prepare_data(*(s[k] for k in DATA_KEYS))
    tok = d["tok"]
    batches, word_ids = subword_batches(tok, d["corpus"].train, batch_size=s["batch_size"], max_len=s["max_len"],
                                        seed=seed)
    data = D.MLMBatches(batches, tokenizer=tok, mask_id=tok.mask_id, vocab_size=tok.vocab_size, strategy=strategy,
                        epochs=s["epochs"], seed=seed, word_ids=word_ids if strategy == "whole_word" else None)
    mcfg = BERTConfig(vocab_size=tok.vocab_size, block_size=s["max_len"] + 1, **{k: s[k] for k in MODEL_KEYS})
    return s, d, data, mcfg


def run(strategy, scale="auto", seed=0, *, progress=True, callback=None, **overrides) -> MaskingRun:
    """Train MiniBERT with one masking strategy and score it on the fixed dev masks."""
    scale = resolve_scale(scale)
    s, d, data, mcfg = training_data(strategy, scale, seed, **overrides)
    seed_everything(seed)
    model = MiniBERT(mcfg)
    tcfg = TrainConfig(lr=s["lr"], warmup=0.05, progress=progress)
    hist = train(model, data, tcfg, callback=callback)
    dev_tokens, dev_words = dev_sets(d, s["dev_draws"])
    tok_scores, word_scores = mlm_scores(model, dev_tokens), mlm_scores(model, dev_words)
    device = next(model.parameters()).device
    result = MaskingRun(
        experiment=EXPERIMENT, variant=strategy, scale=scale, seed=seed,
        config=json.loads(json.dumps({"model": mcfg.to_dict(), "train": dataclasses.asdict(tcfg),
                                      "data": {k: s[k] for k in DATA_KEYS} | {"epochs": s["epochs"],
                                                                             "dev_draws": s["dev_draws"]}})),
        n_params=model.num_params(), provenance=provenance(device), train_seconds=hist.train_seconds,
        steps=hist.step, losses=[round(x, 4) for x in hist.losses], dev_loss=tok_scores["loss"],
        dev_accuracy=tok_scores["accuracy"], word_loss=word_scores["loss"], word_accuracy=word_scores["word_accuracy"],
        data=d["info"] | {"dev_targets": tok_scores["targets"], "dev_words_masked": word_scores["words"]})
    result.model, result.tokenizer = model, d["tok"]          # not saved: for a look at the trained model
    return result


def load(scale="cpu", directory=RESULTS_DIR) -> list:
    """The stored runs of one scale, sorted by strategy and seed."""
    runs = [MaskingRun.load(p) for p in sorted(Path(directory).glob(f"{EXPERIMENT}_*_{scale}_seed*.json"))]
    return sorted(runs, key=lambda r: (STRATEGIES.index(r.variant), r.seed))


SUMMARY = {"final_train_loss": "train loss", "dev_loss": "dev loss", "dev_accuracy": "dev accuracy",
           "word_loss": "whole-word loss", "word_accuracy": "word accuracy"}


def summary(runs) -> Table:
    """Mean ± standard deviation over seeds of every score, per strategy."""
    stats = {m: spread(runs, m) for m in SUMMARY}
    rows = []
    for v in [s for s in STRATEGIES if s in stats["dev_loss"]]:
        st = {m: stats[m][v] for m in SUMMARY}
        rows.append([v, st["dev_loss"]["n"]] + [f"{st[m]['mean']:.3f} ± {st[m]['sd']:.3f}" for m in SUMMARY])
    return Table(["strategy", "seeds", *SUMMARY.values()], rows,
                 title="masking strategies on MiniBERT: mean ± sd over seeds",
                 note="train: the last 5% of steps, on each strategy's own training masks; dev: token-level 15% "
                      "masks; whole-word: the same dev sentences masked word by word (a word is right only if all "
                      "its pieces are).")


def compare_two(runs, metric, a, b, lower_is_better) -> dict:
    """``a`` against ``b`` on ``metric``: the difference of means, its standard error over seeds, and a verdict."""
    st = spread(runs, metric)
    if a not in st or b not in st:
        raise ValueError(f"need runs of both {a!r} and {b!r}")
    diff, se = welch(*((st[v]["mean"], st[v]["sd"], st[v]["n"]) for v in (a, b)))
    gain = -diff if lower_is_better else diff                      # > 0: a is better
    if not math.isfinite(se):
        verdict = "not decided (one seed)"
    elif gain > 2 * se:
        verdict = "confirmed"
    elif gain < -2 * se:
        verdict = "refuted (the opposite)"
    else:
        verdict = "no clear difference"
    return {"diff": diff, "se": se, "gain": gain, "verdict": verdict}


def verdicts(runs) -> tuple[Table, list]:
    """Claimed -> measured: each claim's verdict, computed from the mean difference and its spread over seeds
    (confirmed when the gain exceeds two standard errors)."""
    rows, out = [], []
    for claim, metric, a, b, lower in CLAIMS:
        c = compare_two(runs, metric, a, b, lower)
        out.append(c | {"claim": claim, "metric": metric})
        rows.append([claim, metric, f"{c['diff']:+.4f} ± {c['se']:.4f}", c["verdict"]])
    return Table(["claim (seed 001)", "measured by", f"{'a - b'} ± SE", "verdict"], rows,
                 title="claimed -> measured", note="a - b: the first strategy named in the claim minus the second, "
                 "mean over seeds; SE: the standard error of that difference; confirmed if the gain exceeds 2 SE."), out


def main(argv=None):
    """``python -m minilib.experiments masking_strategies --scale cpu --seeds 0 1 2``."""
    from .cli import parser, store_runs
    args = parser("python -m minilib.experiments masking_strategies", "Rerun the MLM masking strategies and "
                  "store them as reference runs.", STRATEGIES, flag="--strategies").parse_args(argv)
    store_runs(args.seeds, lambda seed: [(RunResult.path_for(EXPERIMENT, s, args.scale, seed),
                                          functools.partial(run, s, args.scale, seed)) for s in args.strategies],
               skip_existing=args.skip_existing,
               describe=lambda r: f"{r.steps} steps, {r.train_seconds:.0f} s, dev loss {r.dev_loss:.3f}, "
               f"word accuracy {r.word_accuracy:.3f}")
    runs = load(args.scale)
    if len({r.seed for r in runs}) > 1:
        print(verdicts(runs)[0])
