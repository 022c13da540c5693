"""Exercises of Lab 1 ("Dot-product vs additive attention")."""
from __future__ import annotations

import types

from ..models import GPTConfig, MiniGPT
from ..results import spread
from .feedback import feedback, verdict


def check_extra_params(fn, dot_run, additive_run) -> bool:
    """``fn(model_config: dict) -> int``: the parameters additive scores add to the model."""
    if fn is None:
        feedback("Not answered yet. Hint: count one head of one layer first, then multiply.")
        return False
    want = additive_run.n_params - dot_run.n_params
    cfgs = [additive_run.config["model"], {**additive_run.config["model"], "d_additive": 3},
            {**additive_run.config["model"], "n_layer": 5}]
    wants = [want] + [_counted(c) for c in cfgs[1:]]
    try:
        got = [int(fn(dict(c))) for c in cfgs]
    except Exception as e:  # noqa: BLE001 - the learner's code
        feedback(f"Your function raised {type(e).__name__}: {e}")
        return False
    if got[0] != wants[0]:
        return verdict(False, "", f"Your count {got[0]:,} differs from the two models' difference {want:,}.")
    return verdict(got == wants, f"Correct: additive attention adds {want:,} parameters "
                                 f"({want / dot_run.n_params:.2%} of the dot model).",
                   "Right for this model, wrong when d_additive or n_layer change: use the config's values.")


def _counted(cfg) -> int:
    """The difference in parameters, counted on two real models built from ``cfg`` (small vocabulary)."""
    small = {k: cfg[k] for k in ("n_layer", "n_head", "n_embd", "d_additive")} | {"vocab_size": 8, "block_size": 4}
    return MiniGPT(GPTConfig(**small, score="additive")).num_params() - MiniGPT(GPTConfig(**small)).num_params()


def _runs(means, sd=0.01):
    """Three fake seeds per variant around ``means`` (for testing a learner's significance rule)."""
    return [types.SimpleNamespace(variant=v, dev_loss=m + d) for v, m in means.items() for d in (-sd, 0.0, sd)]


def significant(results) -> bool:
    """True when the variants' mean dev losses differ by more than twice the larger seed standard deviation."""
    s = spread(results, "dev_loss")
    (a, b) = s.values()
    return abs(a["mean"] - b["mean"]) > 2 * max(a["sd"], b["sd"])


def check_significant(fn, results) -> bool:
    """``fn(results) -> bool``, tested on the reference runs and on two made-up sets whose answer is known."""
    if fn is None:
        feedback("Not answered yet. Hint: spread(results, 'dev_loss') gives mean, sd and n per variant.")
        return False
    cases = [(results, significant(results)), (_runs({"dot": 4.50, "additive": 4.60}), True),
             (_runs({"dot": 4.50, "additive": 4.51}), False)]
    for i, (rs, want) in enumerate(cases):
        if bool(fn(rs)) != want:
            which = "the reference runs" if i == 0 else f"made-up runs whose answer is {want}"
            return verdict(False, "", f"Not quite on {which}: compare |mean gap| with 2 x max(sd).")
    return verdict(True, "Correct: for the reference runs the gap is "
                         + ("larger than" if cases[0][1] else "within") + " twice the seed spread.", "")
