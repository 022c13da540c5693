"""A published model from the Hugging Face Hub (``roberta-base``), or a clear message saying why not.

The course's own RoBERTa is tiny and trained here; the same code runs a published checkpoint where
one can be had: ``load_pretrained("roberta-base")`` returns ``(model, tokenizer)`` from the local
Hugging Face cache, from a local folder (a path), or downloaded once from the Hub (about 500 MB).
Where none of these works (no network, ``HF_HUB_OFFLINE=1``, or ``offline=True`` and nothing cached) it
raises ``HubUnavailableError``, whose message says what happened and what to do, instead of the
library's traceback. ``offline=True`` never touches the network (the book's build uses it).

The tokenizer is loaded with ``add_prefix_space=True``: the course feeds sentences as word lists
(``is_split_into_words``), and RoBERTa's byte-level BPE then spells every word as it would after a space.
"""
from __future__ import annotations

import contextlib
import os

from ..choices import check_choice

TASKS = ("classification", "masked_lm")


class HubUnavailableError(RuntimeError):
    """A model could not be loaded from the Hub, the local cache or a folder; the message says why and what to do."""


def _why(name, offline, cache_dir) -> str:
    where = cache_dir or os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME", os.path.join("~", ".cache", "huggingface")), "hub")
    if offline:
        how = "this call stays offline (offline=True), so the Hub was not asked"
    elif os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        how = "HF_HUB_OFFLINE is set, so the Hub was not asked"
    else:
        how = "the Hugging Face Hub could not be reached (no network?)"
    return (f"{name!r} is not available here: it is not in the local Hugging Face cache ({where}) and {how}. "
            f"Where a network exists (Colab, or a laptop online), run this again with offline=False: it downloads "
            f"{name} once (about 500 MB for roberta-base). Or pass the path of a folder holding a saved model.")


@contextlib.contextmanager
def quiet():
    """``transformers`` without its info messages and progress bars (e.g. "newly initialized" notices, the bar
    that loading a few kilobytes of weights draws), restored afterwards."""
    from transformers.utils import logging
    level, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()


def load_pretrained(name: str = "roberta-base", *, task: str = "classification", num_labels: int = 2,
                    offline: bool | None = None, cache_dir=None, attn_implementation: str | None = None):
    """``(model, tokenizer)`` for ``name`` (a Hub id or a local folder), with a fresh classification head for
    ``task="classification"``. ``offline=True``: the local cache or folder only; ``None``: the Hub too,
    unless ``HF_HUB_OFFLINE`` is set. Raises ``HubUnavailableError`` with the reason and the fix."""
    check_choice("task", task, TASKS)
    from transformers import AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoTokenizer
    kw = dict(local_files_only=bool(offline), cache_dir=cache_dir)
    extra = {"num_labels": num_labels} if task == "classification" else {}
    if attn_implementation:
        extra["attn_implementation"] = attn_implementation
    cls = AutoModelForSequenceClassification if task == "classification" else AutoModelForMaskedLM
    try:
        with quiet():                      # not the "newly initialized classifier" notice: that is the point
            tokenizer = AutoTokenizer.from_pretrained(name, add_prefix_space=True, **kw)
            model = cls.from_pretrained(name, **kw, **extra)
    except (OSError, ValueError) as e:     # not cached / not reachable / not a model folder
        if os.path.isdir(str(name)):
            raise HubUnavailableError(f"{name!r} is a folder but not a saved model (save one with "
                                      f"model.save_pretrained and tokenizer.save_pretrained): {e}") from None
        if isinstance(e, ValueError):
            raise
        raise HubUnavailableError(_why(name, offline, cache_dir)) from None
    return model, tokenizer
