"""Lab 6's exercise: the nearest-noun rule, a baseline that needs no model.

A verb that agrees with the noun right before it is right in ``the bavoks klorn`` but wrong in
``the bavok of the klorns tesks``: the noun in between (an *attractor*) has the other number.
``nearest_noun_agrees(words, target, language)`` is the rule; ``check_nearest_noun`` grades a
learner's version of it on minimal pairs, and ``rule_accuracy`` scores any such rule on them.
"""
from __future__ import annotations

from ..data.minimal_pairs import AGREEMENT
from .feedback import feedback, verdict


def number(word, language) -> str | None:
    """``"sg"``/``"pl"`` for a noun or a verb form of ``language`` (``did`` and other words: None)."""
    cats = language.categories
    for n in ("sg", "pl"):
        for c in ("N", "VI", "VT", "VS", "BE", "DO"):
            if word in cats[f"{c}_{n}"] and word not in cats[f"{c}_{'pl' if n == 'sg' else 'sg'}"]:
                return n
    return None


def nearest_noun_agrees(words, target, language) -> bool:
    """True if the verb at ``target`` has the number of the closest noun before it."""
    nouns = set(language.categories["N_sg"]) | set(language.categories["N_pl"])
    nearest = next((w for w in reversed(words[:target]) if w in nouns), None)
    return nearest is not None and number(nearest, language) == number(words[target], language)


def rule_accuracy(rule, pairs, language) -> list:
    """Per agreement pair: 1 if ``rule`` accepts the good sentence and rejects the bad one, else 0."""
    return [float(rule(list(p.good), p.target, language) and not rule(list(p.bad), p.target, language))
            for p in pairs if p.construction in AGREEMENT]


def check_nearest_noun(fn, pairs, language, *, verbose=True) -> bool:
    """Grade ``fn(words, target, language) -> bool`` against the nearest-noun rule on the agreement pairs."""
    if fn is None:
        if verbose:
            feedback("Not answered yet: define nearest_noun_agrees(words, target, language).")
        return False
    cases = [(list(s), p.target) for p in pairs if p.construction in AGREEMENT for s in (p.good, p.bad)]
    for words, t in cases:
        try:
            got = bool(fn(words, t, language))
        except Exception as e:                                   # a learner's bug: say so, no traceback
            return _say(verbose, False, f"Your function raised {type(e).__name__}: {e}")
        if got != nearest_noun_agrees(words, t, language):
            return _say(verbose, False, f"Not yet: for {' '.join(words[:t + 1])!r} the verb {words[t]!r} "
                        f"{'agrees' if not got else 'does not agree'} with the nearest noun before it.")
    return _say(verbose, True, f"Right on all {len(cases)} sentences.")


def _say(verbose, ok, message) -> bool:
    return verdict(ok, message, message) if verbose else ok
