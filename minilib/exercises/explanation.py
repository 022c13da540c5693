"""Chapter 6's exercise: leave one out by masking instead of deleting.

``minilib.hf.importance.explain`` leaves a word out by deleting it, which also moves every later
word one position left. The other common choice keeps the positions and replaces each of the
word's pieces by ``<mask>``. ``check_loo_mask`` grades a learner's ``loo_mask(model, tokenizer,
words)`` (the total variation distance of the output, per word) against that definition.
"""
from __future__ import annotations

import torch

from ..hf.tokenizer import encode_words
from .feedback import feedback, verdict


@torch.no_grad()
def _loo_mask(model, tokenizer, words) -> torch.Tensor:
    ids, word_ids = encode_words(tokenizer, [list(words)])
    x = torch.tensor(ids)
    variants = x.repeat(len(words), 1)
    for i in range(len(words)):
        variants[i, [t for t, w in enumerate(word_ids[0]) if w == i]] = tokenizer.mask_token_id
    p = model(input_ids=torch.cat([x, variants])).logits.float().softmax(-1)
    return 0.5 * (p[1:] - p[0]).abs().sum(-1)


def check_loo_mask(fn, model, tokenizer, sentences, *, verbose=True) -> bool:
    """Grade ``fn(model, tokenizer, words) -> [n_words]`` on ``sentences`` (relative tolerance 1e-3)."""
    if fn is None:
        if verbose:
            feedback("Not answered yet: define loo_mask(model, tokenizer, words).")
        return False
    model.eval()
    for words in sentences:
        want = _loo_mask(model, tokenizer, words)
        try:
            got = torch.as_tensor(fn(model, tokenizer, list(words)), dtype=torch.float32).flatten()
        except Exception as e:
            return _say(verbose, False, f"Your function raised {type(e).__name__}: {e}")
        if got.shape != want.shape:
            return _say(verbose, False, f"Expected one value per word ({len(words)}), got {tuple(got.shape)}.")
        if not torch.allclose(got, want, rtol=1e-3, atol=1e-6):
            i = int((got - want).abs().argmax())
            return _say(verbose, False, f"Word {i} ({words[i]!r}): expected {want[i]:.4g}, got {got[i]:.4g}. Keep "
                        "the positions: replace each of the word's pieces by <mask>, do not delete them.")
    return _say(verbose, True, f"Right on all {len(sentences)} sentences.")


def _say(verbose, ok, message) -> bool:
    return verdict(ok, message, message) if verbose else ok
