"""Training diagnostics: gradient norm, update-to-weight ratio per layer, a smoothed loss, and a
detector that names the layer where an overflow or NaN first appears.

Opt-in: ``TrainConfig(diagnostics=True)``. Off (the default), the loop does exactly what it did
before and reads nothing back from the device per step. On, each step costs one read-back
(is the loss and the gradient norm finite?) and, every ``diagnostics_every`` steps, one copy of
the weight matrices; the loop's ``History`` then holds:

- ``grad_norms``: the total L2 norm of all gradients before clipping (what ``clip_grad_norm_`` returns);
- ``update_ratios``: every ``diagnostics_every`` steps, ``||W_after - W_before|| / ||W_before||`` per weight
  matrix, keyed by its module (a rule of thumb: around 1e-3 is healthy; far below, the layer barely
  learns; near 1e-1 or above, the step is too large);
- ``loss_ema``: the loss smoothed by an exponential moving average with bias correction (``ema``).

When the loss or the gradient norm is not finite, ``locate_non_finite`` runs the batch again
with a forward hook on every module and names the first module whose inputs are finite and whose
output is not (inf: an overflow; nan: 0/0, inf - inf, ...). If the forward pass is finite, it
names the parameter whose gradient went non-finite nearest the output. Training stops with a
``NonFiniteError`` that says which, before the optimiser writes the bad values into the weights.
"""
from __future__ import annotations

import torch


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class NonFiniteError(TrainingDiverged):
    """A non-finite value appeared; ``layer`` names where, ``kind`` is ``"inf"`` or ``"nan"``."""

    def __init__(self, message, layer, kind, step):
        super().__init__(message)
        self.layer, self.kind, self.step = layer, kind, step


def grad_norm(parameters) -> torch.Tensor:
    """Total L2 norm of the gradients (as ``torch.nn.utils.clip_grad_norm_`` computes it), on the device."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


def ema(values, beta=0.9, state=None):
    """Bias-corrected exponential moving average of ``values``; ``state = (average, count)`` continues a series.

    Returns ``(smoothed values, new state)``."""
    avg, n = state or (0.0, 0)
    out = []
    for v in values:
        n += 1
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** n))
    return out, (avg, n)


def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x] if x.is_floating_point() else []
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _tensors(item)]
    if isinstance(x, dict):
        return [t for item in x.values() for t in _tensors(item)]
    return []


def _kind(tensors):
    bad = [t for t in tensors if not torch.isfinite(t).all()]
    if not bad:
        return None
    return "nan" if any(t.isnan().any() for t in bad) else "inf"


@torch.no_grad()
def locate_non_finite(model, batch):
    """``(where, kind)``: the first module (in execution order) whose inputs are finite and whose output is not,
    as ``("module 'name' (Type)", kind)``; ``None`` if the whole forward pass is finite."""
    found = []

    def hook(name):
        def fn(module, inputs, output):
            if found:
                return
            kind = _kind(_tensors(output))
            if kind and _kind(_tensors(inputs)) is None:
                found.append((f"module '{name}' ({type(module).__name__})", kind))
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    idx, targets, pad_mask = batch
    try:
        model(idx, targets, pad_mask=pad_mask)
    finally:
        for h in handles:
            h.remove()
    return found[0] if found else None


def locate_non_finite_grad(model):
    """``(where, kind)``: the parameter nearest the output (last registered) whose gradient is not finite."""
    for name, p in reversed(list(model.named_parameters())):
        if p.grad is not None:
            kind = _kind([p.grad])
            if kind:
                return f"the gradient of parameter '{name}'", kind
    return None


def layer_of(name: str) -> str:
    """``blocks.0.attn.in_proj.weight`` -> ``blocks.0.attn.in_proj``."""
    return name.rsplit(".", 1)[0]


class Diagnostics:
    """Collects the diagnostics of ``model`` while ``train`` runs (see the module docstring)."""

    def __init__(self, model, every: int = 10, first_step: int = 0, beta: float = 0.9):
        if every < 1:
            raise ValueError(f"diagnostics_every must be >= 1, got {every}")
        self.every, self.step, self.beta = every, first_step, beta
        self.matrices = [(layer_of(n), p) for n, p in model.named_parameters() if p.dim() >= 2 and p.requires_grad]
        self._before = None
        self._norms, self._ratios = [], []          # device tensors, read back by flush()
        self._ema_state = None

    def before_update(self, model, batch, loss, norm=None):
        """After backward (and clipping), before the optimiser step: record, check, snapshot."""
        norm = grad_norm(model.parameters()) if norm is None else norm
        self._norms.append(norm.detach().float())
        if not bool(torch.isfinite(loss.detach()) & torch.isfinite(norm)):      # the one read-back per step
            self._raise(model, batch, loss)
        if self.step % self.every == 0:
            self._before = [p.detach().clone() for _, p in self.matrices]

    def after_update(self, model):
        if self._before is not None:
            ratios = torch.stack([torch.linalg.vector_norm((p.detach() - b).float())
                                  / torch.linalg.vector_norm(b.float()).clamp_min(1e-12)
                                  for (_, p), b in zip(self.matrices, self._before)])
            self._ratios.append((self.step, ratios))
            self._before = None
        self.step += 1

    def flush(self, history, new_losses):
        """Read the pending values back (one sync) into ``history``."""
        history.grad_norms.extend(torch.stack(self._norms).tolist() if self._norms else [])
        for step, r in self._ratios:
            history.update_ratios.append({"step": step} | dict(zip((n for n, _ in self.matrices), r.tolist())))
        smoothed, self._ema_state = ema(new_losses, self.beta, self._ema_state)
        history.loss_ema.extend(smoothed)
        self._norms, self._ratios = [], []

    def _raise(self, model, batch, loss):
        where = locate_non_finite(model, batch) or locate_non_finite_grad(model)
        if where is None:
            where = (f"the loss ({float(loss)})", "nan" if torch.isnan(loss).any() else "inf")
        what, kind = where
        cause = "an overflow (inf)" if kind == "inf" else "NaN"
        raise NonFiniteError(
            f"step {self.step}: {cause} first appears in {what}. Look at that layer's weights and inputs; "
            "lower the learning rate, keep gradient clipping on, or train in float32 if it is half precision.",
            what, kind, self.step)


GROUPS = (("embeddings", ("emb",)), ("attention", ("attn",)), ("feed-forward", ("fc", "proj", "mlp")),
          ("head / other", ("",)))


def layer_group(name: str) -> str:
    """The kind of a weight matrix, for colouring: embeddings, attention, feed-forward, or head / other."""
    parts = name.split(".")
    return next(g for g, keys in GROUPS if any(k in p for k in keys for p in parts))


def plot_diagnostics(history, axes=None):
    """Two panels: gradient norm and learning rate per step; update-to-weight ratio of every weight matrix
    (log scale; one line per layer, coloured by kind)."""
    import matplotlib.pyplot as plt
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3), constrained_layout=True)
    ax, ax2 = axes
    ax.plot(history.grad_norms, color="tab:blue", lw=1)
    ax.set(xlabel="step", ylabel="gradient norm", title="gradient norm (before clipping)")
    twin = ax.twinx()
    twin.plot(history.lrs[:len(history.grad_norms)], color="tab:orange", lw=1)
    twin.set_ylabel("learning rate", color="tab:orange")
    if history.update_ratios:
        steps = [r["step"] for r in history.update_ratios]
        colours = {g: f"C{i}" for i, (g, _) in enumerate(GROUPS)}
        labelled = set()
        for name in (k for k in history.update_ratios[0] if k != "step"):
            group = layer_group(name)
            ax2.plot(steps, [r[name] for r in history.update_ratios], lw=1, color=colours[group],
                     label=None if group in labelled else group)
            labelled.add(group)
        ax2.set_yscale("log")
        ax2.axhline(1e-3, color="k", ls=":", lw=1)
        ax2.legend()
    ax2.set(xlabel="step", ylabel="|update| / |weight|", title="update-to-weight ratio")
    return axes
