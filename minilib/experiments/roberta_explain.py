"""Is attention an explanation? Measured on the fine-tuned classifier, where the grammar knows the answer.

Jain & Wallace (2019) asked whether attention weights agree with other measures of which inputs matter
(gradients, leaving a word out) and whether other attention weights (permuted, adversarial) change the
prediction; Wiegreffe & Pinter (2019) answered that the tests must include baselines (uniform attention)
and that "explanation" depends on what is claimed. Here the words that decide grammaticality are known
(the controller and the target of each minimal pair), so the measures can also be scored against the truth.

``explanation(model, tokenizer, pairs)`` measures both sentences of every pair and returns the per-sentence
numbers (stored with each reference run); ``summary`` and ``claims`` turn them (of one run or of several
pooled) into the tables chapter 6 shows, and ``claims`` computes each verdict from the numbers. A model whose
accuracy is not above chance (``above_chance``) gets no overall verdict: it has no answers for attention to explain.
"""
from __future__ import annotations

from ..metrics.explanation import chance_hit, kendall_tau, mean_se, paired_verdict, top_k_hit
from ..tables import Table


def explanation(model, tokenizer, pairs) -> dict:
    """Per sentence (good and bad of each pair): rank correlations between the word importances, whether each
    importance's top word is evidence, the chance of that; and per layer and edit the output change (TVD)
    and correctness with the layer's attention replaced (uniform, permuted)."""
    from ..hf.importance import explain, interventions
    from ..hf.models import eager
    from .roberta import pair_sentences
    eager(model)
    sents, labels = pair_sentences(pairs)
    evidence = [p.evidence for p in pairs for _ in (0, 1)]
    n_layers = model.config.num_hidden_layers
    rec = {k: [] for k in ("tau_att_grad", "tau_att_loo", "tau_grad_loo", "hit_att", "hit_grad", "hit_loo",
                           "chance", "correct")}
    for words, ev, y in zip(sents, evidence, labels):
        e = explain(model, tokenizer, words)
        rec["tau_att_grad"].append([kendall_tau(e["attention"][l], e["gradient"]) for l in range(n_layers)])
        rec["tau_att_loo"].append([kendall_tau(e["attention"][l], e["loo"]) for l in range(n_layers)])
        rec["tau_grad_loo"].append(kendall_tau(e["gradient"], e["loo"]))
        rec["hit_att"].append([float(top_k_hit(e["attention"][l], ev)) for l in range(n_layers)])
        rec["hit_grad"].append(float(top_k_hit(e["gradient"], ev)))
        rec["hit_loo"].append(float(top_k_hit(e["loo"], ev)))
        rec["chance"].append(chance_hit(len(words), ev))
        rec["correct"].append(float(e["pred"] == y))
    edits = interventions(model, tokenizer, sents, labels)
    rec["edits"] = {f"{layer}:{how}": v for (layer, how), v in ((k, v) for k, v in edits.items() if k != "original")}
    return {"n_layers": n_layers, "sentences": len(sents), **_rounded(rec)}


def _rounded(x):
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def pooled(explanations) -> dict:
    """Several runs' ``explanation`` records as one (sentences concatenated; the same number of layers)."""
    explanations = [e for e in explanations if e]
    if not explanations:
        raise ValueError("no explanation records: runs made with explain=False have none")
    if len({e["n_layers"] for e in explanations}) != 1:
        raise ValueError("runs with different numbers of layers cannot be pooled")
    out = {"n_layers": explanations[0]["n_layers"], "sentences": sum(e["sentences"] for e in explanations)}
    for k, v in explanations[0].items():
        if isinstance(v, list):
            out[k] = [x for e in explanations for x in e[k]]
    out["edits"] = {k: {m: [x for e in explanations for x in e["edits"][k][m]] for m in v}
                    for k, v in explanations[0]["edits"].items()}
    return out


def _col(rows, layer):
    return [r[layer] for r in rows]


def _fmt(mse):
    m, se, _ = mse
    return f"{m:.3f} ± {se:.3f}"


def summary(e) -> Table:
    """Per layer: attention's rank correlation with gradient and leave-one-out importance (gradient vs
    leave-one-out below), and how often each measure's top word is a word that decides."""
    rows = []
    for l in range(e["n_layers"]):
        rows.append([f"attention, layer {l}", _fmt(mean_se(_col(e["tau_att_grad"], l))),
                     _fmt(mean_se(_col(e["tau_att_loo"], l))), _fmt(mean_se(_col(e["hit_att"], l)))])
    rows.append(["gradient x input", "–", _fmt(mean_se(e["tau_grad_loo"])), _fmt(mean_se(e["hit_grad"]))])
    rows.append(["leave one out", _fmt(mean_se(e["tau_grad_loo"])), "–", _fmt(mean_se(e["hit_loo"]))])
    rows.append(["chance", "0", "0", _fmt(mean_se(e["chance"]))])
    return Table(["importance", "Kendall τ with gradient", "Kendall τ with leave-one-out", "top word is evidence"],
                 rows, title=f"which words matter, four ways ({e['sentences']} sentences; mean ± SE)",
                 note="attention: from <s> (what the classifier reads) to each word, summed over its pieces, mean "
                      "over heads; evidence: the two words that decide (controller and target).")


def edits_table(e) -> Table:
    """Per layer and edit: the mean output change (TVD) and the accuracy before and after."""
    base = mean_se(e["correct"])
    rows = [["none", "–", "0", _fmt(base)]]
    for key, v in e["edits"].items():
        layer, how = key.split(":")
        rows.append([how, layer, _fmt(mean_se(v["tvd"])), _fmt(mean_se(v["correct"]))])
    return Table(["attention replaced by", "layer", "output change (TVD)", "accuracy"], rows,
                 title="what the prediction does when a layer's attention is replaced",
                 note="TVD: total variation distance between the class probabilities before and after (0 = no "
                      "change, 1 = the opposite answer with certainty); mean ± SE over sentences.")


CHANCE = 0.5                         # balanced labels: half the sentences of every pair are grammatical


def above_chance(e, chance=CHANCE) -> dict:
    """Is the model's sentence accuracy above ``chance`` by 2 standard errors? ``paired_verdict`` of the
    per-sentence correctness against chance: ``{"diff", "se", "n", "verdict"}`` ("yes" = above chance)."""
    return paired_verdict(e["correct"], [chance] * len(e["correct"]))


_OTHER = {"yes": "the opposite", "no": "the opposite", "unclear": "not decided"}


def claims(e) -> tuple[Table, dict]:
    """Claimed -> measured, each verdict computed from per-sentence differences (2 standard errors). Attention is
    the last layer's (the one the classifier reads, as in Jain & Wallace's single attention layer)."""
    last = e["n_layers"] - 1
    att_grad, att_loo = _col(e["tau_att_grad"], last), _col(e["tau_att_loo"], last)
    hit_att = _col(e["hit_att"], last)
    v = {
        "agrees_less_than_grad_loo": paired_verdict(e["tau_grad_loo"], att_grad),
        "agrees_less_with_loo": paired_verdict(e["tau_grad_loo"], att_loo),
        "above_chance": paired_verdict(hit_att, e["chance"]),
        "below_gradient": paired_verdict(e["hit_grad"], hit_att),
        "below_loo": paired_verdict(e["hit_loo"], hit_att),
    }
    drops = {key: paired_verdict(e["correct"], x["correct"]) for key, x in e["edits"].items()}
    v["matters"] = {key: d["verdict"] == "yes" for key, d in drops.items()}
    v["permuting_last_changes_answers"] = drops[f"{last}:permuted"]
    v["uniform_last_changes_answers"] = drops[f"{last}:uniform"]
    v["model_above_chance"] = above_chance(e)
    rows = [
        ("attention agrees with gradients less than leave-one-out does (J&W)", "τ(grad, LOO) − τ(att, grad)",
         v["agrees_less_than_grad_loo"], {"yes": "confirmed", "no": "refuted"}),
        ("attention agrees with leave-one-out less than gradients do (J&W)", "τ(grad, LOO) − τ(att, LOO)",
         v["agrees_less_with_loo"], {"yes": "confirmed", "no": "refuted"}),
        ("attention points at the deciding words more often than chance", "hit(att) − chance",
         v["above_chance"], {"yes": "confirmed", "no": "refuted"}),
        ("gradients point at the deciding words more often than attention", "hit(grad) − hit(att)",
         v["below_gradient"], {"yes": "confirmed", "no": "refuted"}),
        ("leave-one-out points at the deciding words more often than attention", "hit(LOO) − hit(att)",
         v["below_loo"], {"yes": "confirmed", "no": "refuted"}),
        ("permuted attention leaves the answers as they were (J&W)", "accuracy − permuted accuracy",
         v["permuting_last_changes_answers"], {"yes": "refuted", "unclear": "consistent (no change beyond 2 SE)"}),
        ("uniform attention does as well: attention is not needed (W&P's baseline)", "accuracy − uniform accuracy",
         v["uniform_last_changes_answers"], {"yes": "refuted", "unclear": "consistent (no change beyond 2 SE)"}),
    ]
    table = Table(["claim", "measured by (last layer)", "difference ± SE", "verdict"],
                  [[c, m, f"{d['diff']:+.3f} ± {d['se']:.3f}", names.get(d["verdict"], _OTHER[d["verdict"]])]
                   for c, m, d, names in rows],
                  title="claimed -> measured", note="verdicts from the per-sentence differences: a difference "
                  "beyond 2 standard errors decides; within them, not decided.")
    v["verdict"] = overall(v)
    return table, v


def overall(v) -> str:
    """The answer to "is attention an explanation here?", assembled from the computed verdicts: "yes" only if the
    model needs its attention and the last layer's weights agree with both other measures and point at the
    deciding words as often as gradients do; "no" if the answers do not depend on attention at all; no verdict
    when the model's accuracy is not above chance (``v["model_above_chance"]``), as there is nothing to explain."""
    acc = v.get("model_above_chance")
    if acc is not None and acc["verdict"] != "yes":
        where = "below" if acc["verdict"] == "no" else "at"
        return (f"model {where} chance: no verdict (accuracy {CHANCE + acc['diff']:.3f} ± {acc['se']:.3f} is not above "
                f"{CHANCE} by 2 standard errors, so its answers are guesses that attention cannot explain)")
    if not any(v["matters"].values()):
        return ("no: replacing any layer's attention does not change the answers measurably, so the weights "
                "cannot be what the prediction rests on")
    grad_ok = v["agrees_less_than_grad_loo"]["verdict"] != "yes"
    loo_ok = v["agrees_less_with_loo"]["verdict"] != "yes"
    above = v["above_chance"]["verdict"] == "yes"
    not_below = v["below_gradient"]["verdict"] != "yes"
    found = ["the model needs its attention (uniform or permuted weights change its answers)",
             "the last layer's weights point at the deciding words " + (
                 ("more often than chance" + (", at least as often as gradients do" if not_below else
                                              ", but less often than gradients do")) if above
                 else "no more often than chance"),
             "they rank words " + ("at least as closely to gradients as leave-one-out does" if grad_ok
                                   else "less like gradients than leave-one-out does"),
             "and " + ("at least as closely to leave-one-out as gradients do" if loo_ok
                       else "less like leave-one-out than gradients do")]
    head = "yes" if grad_ok and loo_ok and above and not_below else "partly"
    return f"{head}: " + "; ".join(found[:2]) + "; " + " ".join(found[2:])


def plot_importances(e, words, evidence, ax=None):
    """One sentence: each word's importance by each measure (scaled to a maximum of 1), the deciding words marked."""
    import matplotlib.pyplot as plt
    import numpy as np
    from .. import style
    ax = ax or plt.subplots(figsize=(style.COLUMN_INCHES, 3.6))[1]
    last = e["attention"].shape[0] - 1
    measures = {f"attention (layer {last})": e["attention"][last], "gradient x input": e["gradient"],
                "leave one out": e["loo"]}
    x = np.arange(len(words))
    for k, (name, v) in enumerate(measures.items()):
        v = np.asarray(v, dtype=float)
        ax.bar(x + (k - 1) * 0.27, v / max(v.max(), 1e-12), width=0.27, label=name)
    ax.set_xticks(x, words, rotation=90)
    for i in evidence:
        ax.get_xticklabels()[i].set_fontweight("bold")
        ax.axvspan(i - 0.45, i + 0.45, color="0.85", zorder=0)
    ax.set(ylabel="importance / max")
    ax.set_title("the deciding words are shaded", pad=30)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False,
              handlelength=1.2, columnspacing=1.2)           # above the bars, under the title
    return ax
