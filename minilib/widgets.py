"""The lab panel: pick variants and settings, press Run, watch progress and loss curves live,
and keep every run of the session side by side in one table.

It uses only core ipywidgets controls, ``Output`` and matplotlib, which Colab renders
without a custom widget manager. The panel calls the same ``experiments.run`` a plain
code cell can call, so ``panel.run()`` in a cell and the Run button do the same thing.
"""
from __future__ import annotations

import time

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from . import experiments as E
from .experiments import lm
from .results import compare
from .scale import SCALES, resolve_scale
from .viz import WIDTH, padded_heatmap, plot_losses, smooth


def progress_line(out, variant, total):
    """``(bar, text)``: a progress bar and one short line of text for one run, displayed in the Output ``out`` and
    kept there after the run (tqdm's own notebook bar puts rate and postfix on a line too long for a book page,
    where it wraps). The caller sets ``bar.value`` and ``text.value`` as the run goes."""
    bar = W.IntProgress(min=0, max=total, layout=W.Layout(width="200px"))
    text = W.HTML(f"&nbsp;{variant}: starting")
    with out:
        display(W.HBox([bar, text], layout=W.Layout(flex_flow="row wrap", align_items="center")))
    return bar, text


class LabPanel:
    """``LabPanel("dot_vs_additive")``: variant checkboxes, scale, seed, learning rate, steps, Run."""

    def __init__(self, experiment, variants=None, scale="auto", seed=0, redraw_seconds=1.0):
        E.check(experiment)
        self.experiment, self.results, self.redraw_seconds = experiment, [], redraw_seconds
        names = list(E.EXPERIMENTS[experiment])
        chosen = set(variants or names)
        self.picks = {v: W.Checkbox(value=v in chosen, description=v, indent=False,
                                    layout=W.Layout(width="auto")) for v in names}
        scale = resolve_scale(scale)
        self.scale = W.Dropdown(options=list(SCALES), value=scale, description="scale")
        self.seed = W.IntText(value=seed, description="seed", layout=W.Layout(width="160px"))
        self.lr = W.FloatText(value=E.SCALE_SETTINGS[scale]["lr"], description="lr", layout=W.Layout(width="180px"))
        self.steps = W.IntText(value=0, description="steps", tooltip="0 = one epoch", layout=W.Layout(width="160px"))
        self.diagnostics = W.Checkbox(value=False, description="diagnostics", indent=False,
                                      layout=W.Layout(width="auto"),
                                      tooltip="gradient norm, learning rate, update/weight ratios, NaN detector")
        self.scale.observe(lambda ch: setattr(self.lr, "value", E.SCALE_SETTINGS[ch["new"]]["lr"]), names="value")
        self.button = W.Button(description="Run", button_style="primary", icon="play")
        self.status = W.HTML()
        self.progress_out, self.plot_out, self.table_out = W.Output(), W.Output(), W.Output()
        self.diag_out, self.history = W.Output(), None                   # the running (or last) run's History
        self.lines = []                                                   # (bar, text) of each run's progress line
        self.button.on_click(lambda _: self.run())
        wrap = W.Layout(flex_flow="row wrap", align_items="center")      # narrow pages: controls wrap
        self.scale.layout.width = "200px"
        self.widget = W.VBox([
            W.HBox([W.HTML("<b>variants</b>&nbsp;"), *self.picks.values()], layout=wrap),
            W.HBox([self.scale, self.seed, self.lr, self.steps, self.diagnostics, self.button], layout=wrap),
            self.status, self.progress_out, self.plot_out, self.diag_out, self.table_out])

    def _ipython_display_(self):
        display(self.widget)

    def _progress_line(self, variant, total):
        self.lines.append(progress_line(self.progress_out, variant, total))
        return self.lines[-1]

    def _live(self, variant, line):
        last = [0.0]
        bar, text = line
        t0 = time.perf_counter()

        def callback(history):
            self.history = history
            bar.value = history.step
            text.value = (f"&nbsp;{variant}: step {history.step}/{bar.max}, loss {history.losses[-1]:.3f}, "
                          f"{time.perf_counter() - t0:.0f} s")
            now = time.perf_counter()
            if now - last[0] < self.redraw_seconds:
                return
            last[0] = now
            self._draw(extra=(variant, history.losses))
            self._draw_diagnostics()
        return callback

    def _draw_diagnostics(self):
        """Gradient norm, learning rate and update/weight ratios of the running run (``diagnostics`` ticked)."""
        if self.history is None or not self.history.grad_norms:
            return
        from .train import plot_diagnostics
        with self.diag_out:
            self.diag_out.clear_output(wait=True)
            plot_diagnostics(self.history)
            plt.show()

    def _draw(self, extra=None):
        scale = self.scale.value                     # one scale per axis: languages and floors differ
        runs = [r for r in self.results if r.experiment == self.experiment and r.scale == scale]
        with self.plot_out:
            self.plot_out.clear_output(wait=True)
            ax = plot_losses(runs, title="training loss, this session")
            if extra is not None:
                ax.plot(smooth(extra[1]), color="k", lw=1.2, label=f"{extra[0]} (running)")
                ax.set_title(f"training loss, this session ({scale} scale)")
                ax.legend()
            plt.show()

    def run(self, variants=None, **overrides):
        """Run the picked variants (or ``variants``) with the panel's settings; returns the new RunResults."""
        variants = variants or [v for v, box in self.picks.items() if box.value]
        if not variants:
            self.status.value = "<span style='color:#b00'>Pick at least one variant.</span>"
            return []
        settings = {"lr": self.lr.value, **({"steps": self.steps.value} if self.steps.value > 0 else {}),
                    **({"diagnostics": True} if self.diagnostics.value else {}), **overrides}
        settings.pop("progress", None)          # the panel draws its own progress line
        new = []
        self.button.disabled = True
        try:
            for v in variants:
                self.status.value = f"running <b>{v}</b> at scale <b>{self.scale.value}</b>, seed {self.seed.value} …"
                self.history = None
                line = self._progress_line(v, lm.n_steps(self.experiment, v, self.scale.value, **settings))
                r = E.run(self.experiment, v, self.scale.value, self.seed.value, progress=False,
                          callback=self._live(v, line), **settings)
                line[0].value = r.steps
                line[1].value = (f"&nbsp;{v}: {r.steps} steps, final train loss {r.final_train_loss:.3f}, "
                                 f"{r.train_seconds:.0f} s")
                self.results.append(r)
                new.append(r)
                self._draw()
                self._draw_diagnostics()
                with self.table_out:
                    self.table_out.clear_output(wait=True)
                    display(compare(self.results, title="every run of this session"))
            self.status.value = f"done: {len(new)} run(s); {len(self.results)} in this session"
        except Exception as exc:   # show the message in the panel, keep the panel usable
            self.status.value = f"<span style='color:#b00'>{type(exc).__name__}: {exc}</span>"
            raise
        finally:
            self.button.disabled = False
        return new


def masking_panel(views_by_model, pad_row):
    """ToggleButtons (variant) + Dropdowns (model, layer) + Output: the heatmap beside the probe values.

    ``views_by_model`` maps a model's name to its ``variant_views``. Core ipywidgets and matplotlib only.
    Returns ``(panel, update)``; call ``update()`` once so the Output shows the default.
    """
    models = list(views_by_model)
    names = list(views_by_model[models[0]])
    n_layers = len(views_by_model[models[0]][names[0]]["weights"])
    pick = W.ToggleButtons(options=names, value=names[0], description="masking")
    model = W.Dropdown(options=models, value=models[0], description="weights")
    layer = W.Dropdown(options=list(range(n_layers)), value=0, description="layer")
    out = W.Output()

    def update(*_):
        views = views_by_model[model.value]
        with out:
            out.clear_output(wait=True)
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 3.8), constrained_layout=True)
            padded_heatmap(ax1, views[pick.value]["weights"][layer.value], pad_row, f"{pick.value}, layer {layer.value}")
            probes = [views[n]["probe"] for n in names]
            bars = ax2.bar(names, [max(p, 1e-8) for p in probes],
                           color=["tab:orange" if n == pick.value else "tab:gray" for n in names])
            ax2.bar_label(bars, labels=[f"{p:.2g}" for p in probes])
            ax2.set_yscale("log")
            ax2.set_ylim(1e-8, 30 * max(probes + [1e-8]))
            ax2.set_title("mask probe (0 drawn at 1e-8)")
            plt.show()

    for w in (pick, model, layer):
        w.observe(update, names="value")
    return W.VBox([W.HBox([pick]), W.HBox([model, layer]), out]), update
