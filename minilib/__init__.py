"""minilib: the small, shared PyTorch library behind *Attention by Experiment*.

Every chapter and lab imports from here, so the code a learner reads in a
notebook is the code that ran. One idea per module; the subpackages export
their public names (``from minilib.attention import MultiHeadAttention``):

- ``attention``    masks, score functions, ``attention()``, ``MultiHeadAttention``
- ``models``       ``MiniGPT``, ``MiniBERT``, the BiLSTM segmenter; their Hugging Face twins
- ``numpy_bert``   a mini-BERT from scratch in NumPy, with a hand-written backward checked against autograd
- ``data``         the synthetic language, corpora, tokenizers, batches, the entropy floor
- ``train``        the training loop and its learning-rate schedules
- ``metrics``      loss, perplexity, the causality (leak) probe
- ``experiments``  named, reproducible experiments (``run``), the reference-run CLI
- ``hf``           the Hugging Face bridge: a BPE tokenizer and small RoBERTas for the synthetic language, attention
                   edits, word importances, ``roberta-base`` with a clear message where it cannot be had
- ``heads``        chapter 6: any course model's attention as bertviz and matplotlib views, entropy per head,
                   heads that follow agreement
- ``results``      ``RunResult`` (JSON with provenance) and the lab tables
- ``pitfalls``     broken maskings on purpose, and the probes that catch them
- ``beyond_softmax``  chapter 4: the cosine bound, output norm against length, its panel and checker
- ``seglab``       lab 5: BiLSTM segmentation runs with early stopping, calibration, seed 004's claims, its panel
- ``stability_lab``  lab 4's figures (loss against learning rate, attention statistics, length test) and live panel
- ``exercises``    the exercises' checkers (each tested to accept the solution and reject wrong answers)
- ``tables``       the one table renderer (HTML in notebooks, text in terminals)
- ``style``        how figures look: sized for the book's column, text as large as the body's
- ``viz`` / ``widgets``  plots and lab panels (imported only when used)
- ``device``, ``scale``, ``provenance``, ``choices``, ``files``  where, how big, where from, checks, writes

Submodules are imported lazily so ``import minilib`` stays cheap.
"""
import importlib

__version__ = "0.2.0"

_SUBMODULES = (
    "attention", "models", "numpy_bert", "data", "train", "metrics", "experiments", "results", "pitfalls", "tables",
    "beyond_softmax", "stability_lab", "seglab", "hf", "heads", "exercises", "style", "viz", "widgets", "device",
    "scale", "provenance", "choices", "files",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minilib' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
