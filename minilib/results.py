"""Results of experiment runs: ``RunResult`` (saved as JSON with provenance), tables, the published figures.

The published figures are quoted from the original write-up (seed 002, section 2.2)
with credit. They were measured on English news text with an 80,663-type vocabulary,
so only their *pattern* is comparable with runs on the course's synthetic language.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .files import write_atomic
from .tables import Table

# The stored reference runs ship inside the package, so a pip-installed minilib (Colab) has them too.
RESULTS_DIR = Path(__file__).resolve().parent / "reference_runs"

# Seed 002 §2.2 (training time m:ss as seconds; perplexities as printed).
PUBLISHED = {
    "dot_vs_additive": {
        "dot": {"train_time_s": 3 * 60 + 35, "final_train_loss": 5.85, "train_ppl": 401.043, "dev_ppl": 380.805},
        "additive": {"train_time_s": 20 * 60 + 29, "final_train_loss": 5.72, "train_ppl": 405.255, "dev_ppl": 385.998},
    },
    "qkv_sharing": {},   # the write-up reports "no meaningful difference" and no numbers
    "masking": {
        "-inf": {"train_time_s": 3 * 60 + 35, "final_train_loss": 5.85, "train_ppl": 401.043, "dev_ppl": 380.805},
        "zero": {"train_time_s": 2 * 60 + 32, "final_train_loss": 5.27, "train_ppl": 200.316, "dev_ppl": 186.542},
    },
}
PUBLISHED_PROBES = {   # per-sentence loss on four English probe sentences (Table 2 of each experiment)
    "dot_vs_additive": {"dot": [9.459, 6.742, 8.199, 6.355], "additive": [9.114, 6.478, 7.895, 6.327]},
    "masking": {"-inf": [9.459, 6.742, 8.199, 6.355], "zero": [8.430, 5.466, 6.271, 4.995]},
}


class StoredRun:
    """What every kind of stored run shares (a mixin for its dataclass): one JSON file per experiment, variant,
    scale and seed in ``RESULTS_DIR``, written atomically, read back into the same dataclass."""

    @staticmethod
    def path_for(experiment, variant, scale, seed) -> Path:
        name = experiment if variant == experiment else f"{experiment}_{variant}"    # "baseline", not "baseline_baseline"
        return RESULTS_DIR / f"{name}_{scale}_seed{seed}.json"

    def save(self, path=None) -> Path:
        path = Path(path) if path else StoredRun.path_for(self.experiment, self.variant, self.scale, self.seed)
        return write_atomic(path, json.dumps(asdict(self), indent=1, default=float))

    @classmethod
    def load(cls, path):
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class RunRecord(StoredRun):
    """The fields every stored training run starts with (then each kind adds its own): what ran, at which scale
    and seed, with which settings, how large, on what machine and commit, and how long it trained."""
    experiment: str
    variant: str
    scale: str
    seed: int
    config: dict                     # model, train and data settings, exactly as run
    n_params: int
    provenance: dict                 # device, versions, date, commit
    train_seconds: float


@dataclass
class RunResult(RunRecord):
    seconds_per_step: float
    steps: int
    losses: list                     # train loss of every step
    final_train_loss: float          # mean of the last 5% of steps
    train_loss: float                # evaluated on a fixed slice of the training set after training
    dev_loss: float
    entropy_floor: float             # the true language's own loss on exactly the dev targets (nan for real text)
    probes: list = field(default_factory=list)    # [{"text", "loss", "ppl", "true_loss"}] x 4
    samples: list = field(default_factory=list)   # five generated sentences
    grammatical_rate: float = float("nan")        # of 200 samples
    leak: float = float("nan")                    # leak_probe on a dev batch
    median_step_ms: float = float("nan")          # median over log windows of the time per training step

    @property
    def load_avg(self):
        """The machine's 1-minute load average when the run ended (timings on a busy machine are slower)."""
        return self.provenance.get("load_avg_1min", float("nan"))

    @property
    def train_ppl(self):
        return math.exp(self.train_loss)

    @property
    def dev_ppl(self):
        return math.exp(self.dev_loss)

    @property
    def below_floor(self):
        return self.dev_loss < self.entropy_floor



def load_references(experiment, variant=None, scale=None, directory=None) -> list:
    """Stored reference runs (``minilib/reference_runs/*.json``) matching the filters, sorted by variant, scale, seed."""
    out = []
    directory = Path(RESULTS_DIR if directory is None else directory)
    for p in sorted(directory.glob(f"{experiment}_*.json")):
        r = RunResult.load(p)
        if r.experiment == experiment and variant in (None, r.variant) and scale in (None, r.scale):
            out.append(r)
    return sorted(out, key=lambda r: (r.variant, r.scale, r.seed))


COLUMNS = [  # (header, function of a RunResult, format): narrow enough for a book page
    ("run", lambda r: f"{r.variant} · {r.scale} · s{r.seed}", "{}"),
    ("ms/step", lambda r: r.median_step_ms, "{:.0f}"), ("load", lambda r: r.load_avg, "{:.1f}"),
    ("final train loss", lambda r: r.final_train_loss, "{:.3f}"), ("dev loss", lambda r: r.dev_loss, "{:.3f}"),
    ("floor", lambda r: r.entropy_floor, "{:.3f}"), ("grammatical", lambda r: r.grammatical_rate, "{:.0%}"),
    ("leak", lambda r: r.leak, "{:.1e}"),
]


def _fmt(fmt, value):
    try:
        return "–" if isinstance(value, float) and math.isnan(value) else fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


COMPARE_NOTE = ("ms/step: median time per training step; load: the machine's 1-minute load average (2 cores: "
                "above about 2, steps slow down); final train loss: mean over the last 5% of steps (each on its own "
                "batch); floor: the true language's own loss on the same dev targets; leak: largest change of past logits "
                "when the future is replaced (0 for a causal model).")
TIME_NOTE = ("time: the write-up's whole training run; ours: median ms per step and the load average. Compare speed "
             "between variants on the speed page, where they are timed side by side in one process.")


def compare(results, title="") -> Table:
    """One row per run, the metrics side by side."""
    return Table([c[0] for c in COLUMNS], [[_fmt(f, get(r)) for _, get, f in COLUMNS] for r in results], title,
                 COMPARE_NOTE)


def spread(results, metric) -> dict:
    """Mean, standard deviation and count of ``metric`` (a RunResult attribute) per variant."""
    by = {}
    for r in results:
        by.setdefault(r.variant, []).append(getattr(r, metric))
    return {v: {"mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else float("nan"),
                "n": len(xs)} for v, xs in by.items()}


def published_table(experiment, runs=(), references=()) -> Table:
    """The write-up's figures beside the reader's runs and the stored reference runs, per variant."""
    pub = PUBLISHED.get(experiment, {})
    rows = []
    for v, m in pub.items():
        rows.append(["published", v, f"{m['train_time_s'] // 60}:{m['train_time_s'] % 60:02d} total",
                     f"{m['final_train_loss']:.2f}", f"{m['train_ppl']:.1f}", f"{m['dev_ppl']:.1f}", "–"])
    for source, items in (("reference", references), ("your run", runs)):
        for r in items:
            rows.append([f"{source} ({r.scale}, seed {r.seed})", r.variant,
                         f"{_fmt('{:.0f}', r.median_step_ms)} ms/step, load {_fmt('{:.1f}', r.load_avg)}",
                         f"{r.final_train_loss:.2f}", f"{r.train_ppl:.1f}", f"{r.dev_ppl:.1f}",
                         _fmt("{:.2f}", math.exp(r.entropy_floor))])
    return Table(["source", "variant", "time", "final train loss", "train ppl", "dev ppl", "floor ppl"], rows,
                 title=f"{experiment}: published (English news) vs this course's runs (synthetic language)",
                 note=TIME_NOTE + " " + _ppl_note(pub, [*references, *runs]))


def _ppl_note(pub, ours) -> str:
    """What the loss and perplexity columns of ``published_table`` measure, with a worked example: its train
    ppl is measured on other sentences than its final train loss, so it is not exp(final train loss)."""
    from .experiments.lm import SCALE_SETTINGS  # lazy: experiments imports this module
    scales = sorted({r.scale for r in ours}, key=list(SCALE_SETTINGS).index)
    n = ", ".join(f"{SCALE_SETTINGS[s]['eval_batches']} at {s}" for s in scales)
    note = ("final train loss: the mean, over the last 5% of steps, of each step's loss on its own batch (a mean "
            "over steps, not tokens), taken while the model was still learning. train ppl: exp of the trained "
            "model's token-weighted loss on the first batches of its epoch, evaluated after training"
            + (f" ({n} scale)" if n else "") + ": other sentences and a later model, so it is not "
            "exp(final train loss)")
    if ours:
        r = max(ours, key=lambda r: abs(r.train_loss - r.final_train_loss))
        note += (f"; e.g. {r.variant} ({r.scale}, seed {r.seed}): e^{r.final_train_loss:.2f} = "
                 f"{math.exp(r.final_train_loss):.1f} beside a train ppl of {r.train_ppl:.1f}")
    note += ". dev ppl: exp of the loss on the whole dev set; floor ppl: exp of the entropy floor."
    if pub:
        v, m = next(iter(pub.items()))
        note += (" The write-up does not say how it measured its train ppl; its two figures are not "
                 f"exp of each other either ({v}: e^{m['final_train_loss']:.2f} = "
                 f"{math.exp(m['final_train_loss']):.1f} beside {m['train_ppl']:.1f}).")
    return note


def probe_table(runs) -> Table:
    """Per-sentence loss (and perplexity) of each run on the probe sentences, beside the true loss."""
    header = ["#", "sentence", "true loss"] + [f"{r.variant} loss (ppl)" for r in runs]
    rows = [[i + 1, (p["text"][:60] + ("…" if len(p["text"]) > 60 else "")), f"{p['true_loss']:.3f}"]
            + [f"{r.probes[i]['loss']:.3f} ({r.probes[i]['ppl']:.1f})" for r in runs]
            for i, p in enumerate(runs[0].probes)]
    return Table(header, rows, title="per-sentence loss on the probe sentences (nats/token)")
