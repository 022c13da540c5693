"""minilib: the small, shared PyTorch library behind *Attention by Experiment*.

Every chapter and lab imports from here, so the code a learner reads in a
notebook is the code that ran. One idea per module:

- ``attention``   score functions, masks, ``attention()`` and ``MultiHeadAttention``
- ``models``      ``GPTConfig`` and ``MiniGPT``
- ``train``       the training loop (AdamW, warmup + cosine, clipping, checkpoints)
- ``metrics``     perplexity and the causality (leak) probe
- ``device``      device choice, seeding, autocast and CPU speed settings
- ``data``        corpora, tokenizer and batching (``grammar`` holds the synthetic language)
- ``experiments`` named, reproducible experiments (``run``, ``compare``)
- ``widgets`` / ``viz``  lab panels and plots (imported only when used)

Submodules are imported lazily so ``import minilib`` stays cheap.
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "attention", "scores", "masks", "models", "train", "metrics", "device",
    "grammar", "tokenizer", "data", "experiments", "scale", "widgets", "viz", "colab",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minilib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
