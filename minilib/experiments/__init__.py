"""Named, reproducible experiments: what the labs run, and what the stored reference runs were made by.

- ``lm``   the causal-LM comparisons of seed 002 (dot vs additive, Q/K/V sharing, 0 vs -inf masking)
           on MiniGPT: ``run``, ``run_all``, ``settings``, ``references``, ``scale_note``, ``head_qk``, ``probe_ids``
- ``masking_strategies``  static, dynamic and whole-word MLM masking measured on MiniBERT (seed 001):
           ``run``, ``training_data``, ``load``, ``summary``, ``verdicts`` (import the module: its names overlap ``lm``'s)
- ``stability``  Lab 4: which attention trains stably? MiniBERT MLM over a learning-rate grid, every variant
           of the score family, three seeds (seed 000): ``run``, ``sweep``, ``load``, ``VARIANTS``, ``TOGGLES``
- ``stability_claims``  reading that sweep: per-variant best loss, stable LR range, LR sensitivity, and the
           log's claims with computed verdicts (``summary_table``, ``claims_table``)
- ``roberta``  Lab 6: your own RoBERTa with Hugging Face, MLM-pretrained and fine-tuned on grammatical minimal
           pairs against one fine-tuned from scratch (seed 002 §3): ``prepare``, ``pretrain``, ``finetune``,
           ``evaluate``, ``blimp``, ``run``, ``trained``, ``load`` (import the module)
- ``roberta_explain``  is attention an explanation? the fine-tuned classifier's attention against gradients,
           leave-one-out and the grammar's evidence, and under uniform/permuted attention (``explanation``, ``claims``)
- ``roberta_report``  Lab 6's tables and figures: accuracy by construction and distance, pretrained against
           scratch over the stored seeds, with computed verdicts (``spread_table``, ``pretraining_verdicts``)

    from minilib.experiments import run
    r = run("dot_vs_additive", "additive", scale="smoke")

Each family module is also a command (``__main__`` dispatches to its ``main``) that remakes its reference runs (``make reproduce`` calls them all):
``python -m minilib.experiments lm --scale cpu --seeds 0 1 2``.
- ``cli``  the options and the make-save-report loop those commands share (``parser``, ``store_runs``)
"""
from ..results import RunResult, compare, load_references
from .lm import (BASELINE, DATA_KEYS, EXPERIMENTS, MODEL_KEYS, RUN_KEYS, SCALE_SETTINGS, TRAIN_KEYS, check, head_qk,
                 prepare_data, probe_ids, references, run, run_all, sample_sentences, scale_note, settings)

__all__ = ["RunResult", "compare", "load_references", "BASELINE", "references", "DATA_KEYS", "EXPERIMENTS", "MODEL_KEYS", "RUN_KEYS",
           "SCALE_SETTINGS", "TRAIN_KEYS", "check", "head_qk", "prepare_data", "probe_ids", "run", "run_all",
           "sample_sentences", "scale_note", "settings"]
