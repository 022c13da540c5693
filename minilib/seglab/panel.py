"""Lab 5's panel: pick models, lambda, patience and epochs, press Run, watch dev F1 and the losses live.

Core ipywidgets controls, ``Output`` and matplotlib only (Colab renders them). The Run
button calls ``runs.run``, the same function a code cell or the reference runs call, so
``panel.run()`` in a cell and the button do the same thing.
"""
from __future__ import annotations

import time

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from ..scale import SCALES, resolve_scale
from ..widgets import progress_line
from .plots import plot_curves
from .report import runs_table
from .runs import SCALE_SETTINGS, VARIANTS, run


class SegPanel:
    """``SegPanel()``: model checkboxes, scale, seed, lambda, patience, epochs and Run."""

    def __init__(self, variants=("attention", "no_attention"), scale="auto", seed=0, redraw_seconds=1.0):
        scale = resolve_scale(scale)
        self.results, self.redraw_seconds = [], redraw_seconds
        self.picks = {v: W.Checkbox(value=v in variants, description=v, indent=False, layout=W.Layout(width="auto"))
                      for v in VARIANTS}
        s = SCALE_SETTINGS[scale]
        self.scale = W.Dropdown(options=list(SCALES), value=scale, description="scale", layout=W.Layout(width="190px"))
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="150px"))
        self.lam = W.FloatText(value=s["entropy_lambda"], description="λ", step=0.01, layout=W.Layout(width="150px"),
                               tooltip="weight of the attention-entropy term (attention model only)")
        self.patience = W.IntText(value=s["patience"], description="patience", layout=W.Layout(width="170px"))
        self.epochs = W.IntText(value=s["max_epochs"], description="epochs", layout=W.Layout(width="160px"))
        self.scale.observe(self._scale_changed, names="value")
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.button.on_click(lambda _: self.run())
        self.status = W.HTML()
        self.progress_out, self.plot_out, self.table_out = W.Output(), W.Output(), W.Output()
        self.lines = []                                    # (bar, text) of each run's progress line
        wrap = W.Layout(flex_flow="row wrap", align_items="center")
        self.widget = W.VBox([
            W.HBox([W.HTML("<b>models</b>&nbsp;"), *self.picks.values()], layout=wrap),
            W.HBox([self.scale, self.seed, self.lam, self.patience, self.epochs, self.button], layout=wrap),
            self.status, self.progress_out, self.plot_out, self.table_out])

    def _scale_changed(self, change):
        s = SCALE_SETTINGS[change["new"]]
        self.patience.value, self.epochs.value = s["patience"], s["max_epochs"]

    def _ipython_display_(self):
        display(self.widget)

    def _draw(self, running=None):
        curves = {f"{r.variant} s{r.seed}": r.history for r in self.results}
        if running is not None:
            curves[f"{running[0]} (running)"] = running[1]
        with self.plot_out:
            self.plot_out.clear_output(wait=True)
            plot_curves(curves, title="dev F1 per epoch (this session)")
            plt.show()

    def _progress_line(self, variant, total):
        self.lines.append(progress_line(self.progress_out, variant, total))
        return self.lines[-1]

    def _live(self, variant, line):
        last = [0.0]
        bar, text = line

        def callback(history):
            h = history[-1]
            bar.value = h["epoch"]
            text.value = (f"&nbsp;{variant}: epoch {h['epoch']}/{bar.max}, dev F1 {h['dev_f1']:.3f} "
                          f"(best {max(e['dev_f1'] for e in history):.3f}), {h['seconds']:.0f} s")
            if time.perf_counter() - last[0] >= self.redraw_seconds:
                last[0] = time.perf_counter()
                self._draw(running=(variant, list(history)))
        return callback

    def run(self, variants=None, **overrides):
        """Run the ticked models (or ``variants``) with the panel's settings; returns the new ``SegRun``s."""
        variants = variants or [v for v, box in self.picks.items() if box.value]
        if not variants:
            self.status.value = "<span style='color:#b00'>Tick at least one model.</span>"
            return []
        new = []
        self.button.disabled = True
        try:
            for v in variants:
                settings = {"max_epochs": self.epochs.value, "patience": self.patience.value}
                if v == "attention":
                    settings["entropy_lambda"] = self.lam.value
                settings.update(overrides)
                self.status.value = (f"training <b>{v}</b> at scale <b>{self.scale.value}</b>, seed {self.seed.value}, "
                                     f"up to {settings['max_epochs']} epochs …")
                settings.pop("progress", None)          # the panel draws its own progress line
                line = self._progress_line(v, settings["max_epochs"])
                r = run(v, self.scale.value, self.seed.value, progress=False, callback=self._live(v, line),
                        **settings)
                line[1].value = (f"&nbsp;{v}: {len(r.history)} epochs"
                                 f"{' (stopped early)' if r.stopped_early else ''}, best dev F1 "
                                 f"{r.best_dev_f1:.3f} at epoch {r.best_epoch}, {r.train_seconds:.0f} s")
                self.results.append(r)
                new.append(r)
                self._draw()
                with self.table_out:
                    self.table_out.clear_output(wait=True)
                    display(runs_table(self.results, title="every run of this session"))
            self.status.value = f"done: {len(new)} run(s); {len(self.results)} in this session"
        except Exception as exc:
            self.status.value = f"<span style='color:#b00'>{type(exc).__name__}: {exc}</span>"
            raise
        finally:
            self.button.disabled = False
        return new
