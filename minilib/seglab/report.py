"""Lab 5's tables: one row per run, mean ± sd per variant beside the Bayes-optimal reader, calibration."""
from __future__ import annotations

import textwrap

from ..tables import Table
from .claims import fmt_spread


def runs_table(runs, title="runs") -> Table:
    """One row per run: epochs, test F1 / Pk / WindowDiff, ECE (all tokens) raw / temperature / Platt, time."""
    rows = []
    for r in runs:
        cal = r.calibration["all"]
        rows.append([f"{r.variant} · {r.scale} · s{r.seed}", f"{len(r.history)} ({r.best_epoch})",
                     f"{r.test['f1']:.3f}", f"{r.test['pk']:.3f}", f"{r.test['windowdiff']:.3f}",
                     f"{cal['raw']['ece']:.4f}", f"{cal['temperature']['ece']:.4f}", f"{cal['platt']['ece']:.4f}",
                     f"{r.train_seconds:.0f}"])
    return Table(["run", "epochs (best)", "test F1", "Pk", "WindowDiff", "ECE", "ECE temp.", "ECE Platt", "train s"],
                 rows, title, "Test streams, decisions at p > 0.5; ECE over all tokens, 15 bins; scalings fitted on dev.")


def summary_table(runs_by_variant, title="mean ± sd over seeds, test streams") -> Table:
    """Per variant: test F1, Pk, WindowDiff over seeds, then the Bayes-optimal reader and 'every and'."""
    rows = []
    for variant, runs in runs_by_variant.items():
        if runs:
            rows.append([variant, len(runs), *(fmt_spread([r.test[k] for r in runs]) for k in ("f1", "pk", "windowdiff"))])
    ref = next(r for runs in runs_by_variant.values() for r in runs)
    b = ref.bayes
    rows.append([f"Bayes posterior > {b['f1_threshold']:.2f}", "-", f"{b['at_best']['f1']:.3f}",
                 f"{b['at_best']['pk']:.3f}", f"{b['at_best']['windowdiff']:.3f}"])
    rows.append(["Bayes posterior > 0.5", "-", f"{b['at_0.5']['f1']:.3f}", f"{b['at_0.5']['pk']:.3f}",
                 f"{b['at_0.5']['windowdiff']:.3f}"])
    if b.get("trivial"):
        rows.append(["every 'and' is a boundary", "-", f"{b['trivial']['f1']:.3f}", f"{b['trivial']['pk']:.3f}",
                     f"{b['trivial']['windowdiff']:.3f}"])
    return Table(["model", "seeds", "F1", "Pk", "WindowDiff"], rows, title,
                 "Pk and WindowDiff are error rates (lower is better). The Bayes rows read the exact posterior: "
                 "no model can beat them in expectation; its threshold was chosen on the dev streams.")


def calibration_table(runs, positions="all", title=None) -> Table:
    """ECE / NLL / Brier before and after each scaling (mean ± sd over runs), and the true posterior's."""
    rows = []
    for kind in ("raw", "temperature", "platt"):
        rows.append([kind, *(fmt_spread([r.calibration[positions][kind][m] for r in runs], 4)
                             for m in ("ece", "nll", "brier"))])
    b = runs[0].bayes[positions]
    rows.append(["Bayes posterior", f"{b['ece']:.4f}", f"{b['nll']:.4f}", f"{b['brier']:.4f}"])
    where = "all real tokens" if positions == "all" else "the candidate tokens ('and')"
    return Table(["probabilities", "ECE (15 bins)", "NLL", "Brier"], rows,
                 title or f"calibration on {where}, test streams",
                 "Temperature: p = sigmoid(z / T); Platt: p = sigmoid(a z + b); both fitted by L-BFGS on the dev "
                 "streams' NLL. The posterior's ECE is not 0 only because the test set is finite.")


def stream_text(stream, start=0, width=60, joiner="and") -> str:
    """A window of a stream as text, each joiner followed by [posterior] and '|' where a sentence really ends."""
    words = []
    for i in range(start, min(start + width, len(stream.tokens))):
        tok, y = stream.tokens[i], stream.labels[i]
        if tok == joiner and stream.posterior is not None:
            tok = f"{tok}[{stream.posterior[i]:.2f}]"
        words.append(tok + (" |" if y else ""))
    return textwrap.fill(" ".join(words), width=88) + (" …" if start + width < len(stream.tokens) else "")


def lambda_table(runs_by_variant, title="the entropy term (mean ± sd over seeds)") -> Table:
    """Per attention variant: its lambda, test F1 and the entropy measure R on the test streams."""
    rows = [[v, runs[0].config["model"]["entropy_lambda"], len(runs), fmt_spread([r.test_f1 for r in runs]),
             fmt_spread([r.attn_entropy for r in runs])] for v, runs in runs_by_variant.items() if runs]
    return Table(["model", "λ", "seeds", "test F1", "R on test streams"], rows, title,
                 "R: mean attention-row entropy / log(stream length); 0 = each query looks at one token, "
                 "1 = at all alike.")
