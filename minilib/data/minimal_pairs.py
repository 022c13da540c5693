"""Minimal pairs: two sentences that differ in one word, one grammatical and one not, and the words that decide.

BLiMP (Warstadt et al., 2020) builds such pairs from templates for English. Here they come from
sentences the synthetic language samples, and the grammar itself finds the dependencies:

- **agreement** (the noun's number decides its verb's form): flip a noun's number
  (``bavok`` <-> ``bavoks``) and ask ``SyntheticLanguage.token_logprobs`` where the sentence first
  fails. That word agrees with the noun: it is the *target*, the noun its *controller*. The pair
  keeps the noun and flips the target (``the bavoks that Mira tesks klorn`` / ``... klorns``).
  The construction is read off the words between the two: ``adjacent``, across a
  ``prepositional phrase``, the verb ``in relative clause`` (``the bavoks that klorn``), the verb
  after it, ``across relative clause`` (``the bavoks that Mira tesks klorn``, or ``the bavoks that will
  tesk klorn``, where the clause's own verb has no number), across a ``parenthesis``;
- **pronoun**: a pronoun agrees in gender with the latest name (``Mira ... she``); the pair flips
  the pronoun (``she`` -> ``he``), the controller is that name;
- **closing mark**: a closing quote replaced by a closing parenthesis (and a closing parenthesis by a
  quote); the controller is the mark it should close.

Every pair is checked: the good sentence is grammatical, the bad one differs from it in exactly
the target word and the grammar rejects it *at* that word. ``distance`` is target minus
controller (in words); ``attractors`` counts the nouns in between whose number differs from the
controller's (the words that tempt a model to agree with the nearest noun; Linzen et al., 2016).

    pairs = minimal_pairs(SyntheticLanguage(0, 1_000), 300, seed=1, max_words=30)
    pairs[0].good, pairs[0].bad, pairs[0].construction, pairs[0].evidence
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

from ..choices import check_choice
from .grammar import SyntheticLanguage
from .lexicon import PRONOUNS

AGREEMENT = ("adjacent", "prepositional phrase", "in relative clause", "across relative clause", "parenthesis")
CONSTRUCTIONS = (*AGREEMENT, "pronoun", "closing mark")
OPENER = {'"': '"', ")": "("}            # a closing mark -> the mark it closes
WRONG_CLOSER = {'"': ")", ")": '"'}      # a closing mark -> the wrong one put in its place


@dataclass(frozen=True)
class MinimalPair:
    """``good`` and ``bad`` (lists of words) differ only at ``target``; ``controller`` is the word that decides."""
    good: tuple
    bad: tuple
    construction: str
    controller: int
    target: int
    attractors: int = 0

    @property
    def distance(self) -> int:
        return self.target - self.controller

    @property
    def evidence(self) -> tuple:
        """The word positions that decide grammaticality: the controller and the target."""
        return (self.controller, self.target)

    def to_dict(self) -> dict:
        return asdict(self) | {"distance": self.distance}


class _Forms:
    """The lexicon's number and gender counterparts: noun sg <-> pl, verb sg <-> pl, she <-> he, her <-> him."""

    def __init__(self, language: SyntheticLanguage):
        cats = language.categories
        self.noun_number, self.flip_noun, self.flip_verb = {}, {}, {}
        for a, b in zip(cats["N_sg"], cats["N_pl"]):
            self.noun_number[a], self.noun_number[b] = "sg", "pl"
            self.flip_noun[a], self.flip_noun[b] = b, a
        for c in ("VI", "VT", "VS", "BE", "DO"):
            for a, b in zip(cats[f"{c}_sg"], cats[f"{c}_pl"]):
                if a != b:                                  # "did" is both
                    self.flip_verb[a], self.flip_verb[b] = b, a
        self.flip_pronoun = {d["f"]: d["m"] for d in PRONOUNS.values()}
        self.flip_pronoun |= {m: f for f, m in self.flip_pronoun.items()}
        self.prepositions = set(cats["PREP"])
        self.names = set(language.gender)


def counterpart(word: str, language: SyntheticLanguage) -> str | None:
    """The word's other form: a noun's or verb's other number, a pronoun's other gender (None if it has none)."""
    forms = _Forms(language)
    return forms.flip_noun.get(word) or forms.flip_verb.get(word) or forms.flip_pronoun.get(word)


def first_failure(language: SyntheticLanguage, words) -> int | None:
    """Index of the first word the grammar cannot produce (``len(words)`` if only the end fails), or None."""
    lps = language.token_logprobs(list(words), strict=False)
    return next((i for i, lp in enumerate(lps) if lp == -math.inf), None)


def _replace(words, i, w):
    out = list(words)
    out[i] = w
    return tuple(out)


def _agreement_type(words, controller, target, forms) -> str:
    nxt = words[controller + 1]
    if target == controller + 1:
        return "adjacent"
    if nxt == "that":
        return "in relative clause" if target == controller + 2 else "across relative clause"
    if nxt == "(":
        return "parenthesis"
    if nxt in forms.prepositions:
        return "prepositional phrase"
    raise AssertionError(f"unexpected agreement construction: {' '.join(words[controller:target + 1])}")


def find_pairs(language: SyntheticLanguage, sentence, forms: _Forms | None = None) -> list[MinimalPair]:
    """Every minimal pair the grammar finds in one grammatical ``sentence`` (a list of words)."""
    words = tuple(sentence)
    forms = forms or _Forms(language)
    if first_failure(language, words) is not None:
        raise ValueError(f"not a sentence of this language: {' '.join(words)!r}")
    found = []
    for i, w in enumerate(words):                       # agreement: flip a noun, see where it breaks
        if w not in forms.flip_noun:
            continue
        t = first_failure(language, _replace(words, i, forms.flip_noun[w]))
        if t is None or t <= i or t >= len(words) or words[t] not in forms.flip_verb:
            continue                                    # no agreement, or the determiner disagrees
        n = forms.noun_number[w]
        attractors = sum(forms.noun_number.get(x, n) != n for x in words[i + 1:t])
        found.append((_agreement_type(words, i, t, forms), i, t, forms.flip_verb[words[t]], attractors))
    latest, opened = None, {}                           # the latest name; open quote/parenthesis -> position
    for j, w in enumerate(words):
        if w in forms.names:
            latest = j
        elif w in forms.flip_pronoun and latest is not None:
            found.append(("pronoun", latest, j, forms.flip_pronoun[w], 0))
        elif w in OPENER and OPENER[w] in opened:      # a closing mark
            found.append(("closing mark", opened.pop(OPENER[w]), j, WRONG_CLOSER[w], 0))
        elif w in ('"', "("):
            opened[w] = j
    pairs = []
    for construction, c, t, swap, attractors in found:
        bad = _replace(words, t, swap)
        if first_failure(language, bad) == t:           # rejected, and exactly at the changed word
            pairs.append(MinimalPair(words, bad, construction, c, t, attractors))
    return pairs


def minimal_pairs(language: SyntheticLanguage, n: int, *, seed=0, max_words: int | None = None,
                  constructions=CONSTRUCTIONS, max_sentences: int | None = None) -> list[MinimalPair]:
    """``n`` minimal pairs from sentences the language samples (stream ``seed``), balanced over ``constructions``.

    Each construction gets an equal share of ``n`` (the first ``n % k`` one more); at most one pair is
    taken from a sentence. Sentences longer than ``max_words`` are skipped. A construction that has not
    filled its share after ``max_sentences`` sentences (default ``200 * n``) is an error that says which.
    """
    for c in constructions:
        check_choice("construction", c, CONSTRUCTIONS)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = random.Random(f"minimal-pairs-{seed}")
    forms = _Forms(language)
    k = len(constructions)
    quota = {c: n // k + (i < n % k) for i, c in enumerate(constructions)}
    out, seen, budget = [], set(), max_sentences or 200 * n
    while len(out) < n and budget > 0:
        for s in language.sample(min(budget, 256), rng):
            budget -= 1
            if (max_words and len(s) > max_words) or tuple(s) in seen:
                continue
            seen.add(tuple(s))
            cands = [p for p in find_pairs(language, s, forms) if quota.get(p.construction, 0) > 0]
            if cands:
                p = rng.choice(cands)
                quota[p.construction] -= 1
                out.append(p)
    short = {c: q for c, q in quota.items() if q > 0}
    if short:
        raise RuntimeError(f"after {max_sentences or 200 * n} sentences these constructions still lack pairs: {short}; "
                           "allow longer sentences (max_words) or more sentences (max_sentences)")
    return out


def split_pairs(pairs, fractions=(0.8, 0.2), seed=0) -> list[list[MinimalPair]]:
    """Shuffle ``pairs`` (seeded) and cut them into parts of the given fractions (both sentences of a pair together)."""
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)
    cuts = [round(sum(fractions[:k]) * len(pairs)) for k in range(len(fractions) + 1)]
    return [pairs[a:b] for a, b in zip(cuts, cuts[1:])]
