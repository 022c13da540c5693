"""Lab 5's layer: segmentation runs with early stopping, their scores, tables, plots, claims and panel.

- ``evaluate``  scoring on streams: boundaries, Pk/WindowDiff, calibration before/after scaling, the Bayes reference,
                what each attention head looks at (``head_focus``, ``describe_heads``)
- ``runs``      ``run`` (train with early stopping, score, ``SegRun`` with provenance), ``load_runs``, the CLI
- ``claims``    seed 004's figures and the verdicts on its claims, computed from runs over seeds
- ``report``    the tables: runs, mean ± sd per model beside the Bayes-optimal reader, calibration
- ``plots``     training curves, every seed's dev F1 per epoch, reliability diagrams, attention heads
- ``panel``     ``SegPanel``: the widget that trains models live (imported only when used)
- ``__main__``  ``python -m minilib.seglab``: remakes the stored reference runs (``make reproduce``)

    from minilib.seglab import run, load_runs
    r = run("attention", scale="smoke")
    python -m minilib.seglab --scale cpu --seeds 0 1 2     # remake the stored reference runs
"""
from .claims import PUBLISHED, claims, claims_table, dip_verdict, verdict
from .evaluate import bayes_reference, describe_heads, head_focus, predict_logits, score_model
from .report import calibration_table, lambda_table, runs_table, stream_text, summary_table
from .runs import SCALE_SETTINGS, VARIANTS, SegRun, load_runs, prepare, run, scale_note, settings

__all__ = ["PUBLISHED", "claims", "claims_table", "dip_verdict", "verdict", "bayes_reference", "describe_heads", "head_focus", "predict_logits", "score_model",
           "calibration_table", "lambda_table", "runs_table", "stream_text", "summary_table", "SCALE_SETTINGS", "VARIANTS", "SegRun", "load_runs",
           "prepare", "run", "scale_note", "settings"]
