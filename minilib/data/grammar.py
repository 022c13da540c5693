"""A synthetic, English-like language whose probabilities are known exactly.

Real text has no known entropy: nobody can say what loss a perfect model would
reach on it. This language is different. It is written as a small *stochastic
stack machine* that produces a sentence one token at a time, left to right:

* the machine holds a stack of pending grammar symbols (``NP_V`` = "a subject
  noun phrase, then its verb phrase", ``TAIL_pl``, ``MORE_S`` …) and a little
  memory (the names mentioned so far, the gender of the latest name, whether a
  quote or a parenthesis is open, how many tokens were emitted);
* to emit the next token it pops symbols, picks one rule for each with a fixed
  probability, and finally draws a word from a Zipfian word list;
* the grammar is LL(1): the next token always reveals which rules were picked
  (``check_deterministic`` proves it), so the machine's state is a function of
  the prefix alone.

Hence ``p(next token | prefix)`` is exact and cheap (``token_logprobs``), a
sentence's probability is the product of those numbers (``logprob``), the
entropy per token can be estimated with an honest error bar
(``entropy_per_token``) and any sentence can be checked (``is_grammatical``).

What attention has to get right in it:

* number agreement across a relative clause: ``the bavoks that Mira tesks klorn .``
  (``klorn`` is plural because ``bavoks`` is, however long the clause);
* quotes and parentheses that must close;
* names that come back: a later mention is the same name, or a pronoun that
  agrees with the latest name (names ending in a vowel take *she*/*her*).

The words are pronounceable pseudo-words built from syllables, plus real English
function words (``the``, ``of``, ``that``, ``who``, ``,``, ``"`` …), so samples
read like English with an unknown vocabulary. Rule probabilities are fixed; the
seed draws the lexicon.
"""
from __future__ import annotations

import bisect
import math
import random
from itertools import accumulate as _accumulate
from typing import NamedTuple

from .lexicon import LITERALS, OPEN_CATS, OPEN_SHARES, PRONOUNS, STOP, build_lexicon
from .rules import SPECIAL_TERMINALS, NAMED, NOP, NOQ, build_rules

class Estimate(NamedTuple):
    """A Monte-Carlo estimate: ``value`` ± ``stderr`` from ``n`` sentences (``tokens`` predicted tokens)."""
    value: float
    stderr: float
    n: int
    tokens: int


class SyntheticLanguage:
    """A seeded English-like language with exact next-token probabilities.

    ``n_types`` is the exact number of distinct word types (function words,
    punctuation and both forms of every noun and verb included; ``<STOP>`` not).
    ``p_first``, ``p_more`` and ``p_list`` are the probabilities of one more clause
    after the first clause, after ``and``/``but``/``because``…, and after a
    list-like ``, so`` or ``;``; they shape the sentence lengths (defaults: mean
    about 25 tokens, about 1.3% longer than 100). ``rec_budget`` switches off every
    recursive rule once that many tokens are out, so every sentence is finite (a
    default sentence hits this cap about 4 times in 100,000). ``seed`` draws the
    lexicon; the rules and their probabilities are the same for every seed.
    """

    def __init__(self, seed: int = 0, n_types: int = 7_900, *, p_first: float = 0.85, p_more: float = 0.25,
                 p_list: float = 0.84, zipf_s: float = 1.0, rec_budget: int = 250, p_name_ref: float = 0.4, _sizes: dict | None = None):
        self.seed, self.n_types, self.zipf_s = seed, n_types, zipf_s
        self.p_first, self.p_more, self.p_list = p_first, p_more, p_list
        self.rec_budget, self.p_name_ref = rec_budget, p_name_ref
        self.categories = build_lexicon(seed, n_types, _sizes)
        self._compile(build_rules(p_first, p_more, p_list))

    @classmethod
    def tiny(cls, rec_budget: int = 2) -> "SyntheticLanguage":
        """A miniature of the same grammar (one word per class) whose sentences can all be listed."""
        sizes = {c: 1 for c in OPEN_SHARES}
        sizes["NAME"] = 2
        return cls(seed=0, n_types=0, rec_budget=rec_budget, p_first=0.4, p_more=0.4, p_list=0.4, _sizes=sizes)

    # ------------------------------------------------------------------ compiling the grammar
    def _compile(self, rules: dict) -> None:
        """Turn the rules into tables: symbol ids, word tables, one option table per guard state."""
        self.rules, nts = rules, list(rules)
        n_nt = self._n_nt = len(nts)
        self._class = {}                     # token -> class: an open word's category, else the word itself
        for c, words in self.categories.items():
            self._class.update((w, c if c in OPEN_CATS else w) for w in words)
        self._class.update((w, w) for w in list(LITERALS) + [w for d in PRONOUNS.values() for w in d.values()])
        self.gender = {w: ("f" if w[-1] in "aeiou" else "m") for w in self.categories["NAME"]}
        self._name_rank = {w: i for i, w in enumerate(self.categories["NAME"])}
        self._words = {}                     # category -> (words, cumulative probs, {word: log p})
        for c, words in self.categories.items():
            z = [(r + 3.7) ** -self.zipf_s if c in OPEN_CATS else 1 / (r + 1) for r in range(len(words))]
            tot = sum(z)
            probs = [x / tot for x in z]
            cum = list(_accumulate(probs))
            cum[-1] = 1.0
            self._words[c] = (words, cum, {w: math.log(p) for w, p in zip(words, probs)})
        self._name_z = [math.exp(self._words["NAME"][2][w]) for w in self.categories["NAME"]]
        ids, self._kinds, self._item_classes = {n: i for i, n in enumerate(nts)}, [], []

        def item(tok: str) -> int:           # a terminal: (kind, data) and the token classes it can start
            if tok not in ids:
                ids[tok] = n_nt + len(self._kinds)
                name = tok[1:] if tok.startswith("@") else None
                if name in SPECIAL_TERMINALS:
                    kind, data = ("PRON" if name.startswith("PRON") else name), SPECIAL_TERMINALS[name]
                    cls = set(data.values()) if kind == "PRON" else {data}
                elif name == "NAME":
                    kind, data, cls = "NAME", None, {"NAME"}
                elif name is not None and len(self._words[name][0]) > 1:
                    kind, data = "CAT", self._words[name]
                    cls = {name} if name in OPEN_CATS else set(data[0])
                else:                        # one fixed token (a one-word category in the tiny language)
                    word = self._words[name][0][0] if name else tok
                    kind, data, cls = ("STOP" if word == STOP else "LIT"), word, {word}
                    self._class[word] = word
                self._kinds.append((kind, data))
                self._item_classes.append(cls)
            return ids[tok]

        self._options = [[(p, tuple(item(t) for t in rhs.split()), g) for p, rhs, g in rules[n] if p > 0]
                         for n in nts]
        self._stop_id, self._start = item(STOP), ids["S"]
        self._rhs_rev = [[rhs[::-1] for _, rhs, _ in opts] for opts in self._options]
        self._allowed, self._opt_logp = [], []   # per symbol, per guard state g (0..15)
        for opts in self._options:
            allowed, logp = [], []
            for g in range(16):
                ks = [k for k, (_, _, m) in enumerate(opts) if m & g == m]
                tot = sum(opts[k][0] for k in ks)
                cum = list(_accumulate(opts[k][0] / tot for k in ks))
                cum[-1] = 1.0
                allowed.append((ks, cum))
                logp.append([math.log(p / tot) if k in ks else None for k, (p, _, _) in enumerate(opts)])
            self._allowed.append(allowed)
            self._opt_logp.append(logp)
        self._first_map, self._nullable_opt = self.check_deterministic()

    def check_deterministic(self):
        """Prove the grammar is LL(1): at every choice the next token's class picks the rule.

        Computes FIRST and FOLLOW sets over token classes and raises ``ValueError``
        on any overlap (guards are ignored, which can only add overlaps). Returns, per
        symbol, the map class -> rule and the index of its empty rule: all the scorer needs.
        """
        n_nt, opts = self._n_nt, self._options
        first, nullable, follow = [set() for _ in opts], [False] * n_nt, [set() for _ in opts]
        follow[self._start].add(STOP)

        def seq_first(rhs):
            out = set()
            for x in rhs:
                if x >= n_nt:
                    return out | self._item_classes[x - n_nt], False
                out |= first[x]
                if not nullable[x]:
                    return out, False
            return out, True
        for step in ("first", "follow"):
            changed = True
            while changed:
                changed = False
                for a, options in enumerate(opts):
                    for _, rhs, _ in options:
                        if step == "first":
                            f, nul = seq_first(rhs)
                            if not f <= first[a] or nul > nullable[a]:
                                first[a] |= f
                                nullable[a] |= nul
                                changed = True
                            continue
                        for i, x in enumerate(rhs):
                            if x < n_nt:
                                f, nul = seq_first(rhs[i + 1:])
                                new = f | (follow[a] if nul else set())
                                if not new <= follow[x]:
                                    follow[x] |= new
                                    changed = True
        names, first_map, nullable_opt = list(self.rules), [], []
        for a, options in enumerate(opts):
            fm, nul_k = {}, None
            for k, (_, rhs, _) in enumerate(options):
                f, nul = seq_first(rhs)
                if nul and nul_k is not None:
                    raise ValueError(f"not LL(1): {names[a]} has two rules that can be empty")
                nul_k = k if nul else nul_k
                for c in f:
                    if c in fm:
                        raise ValueError(f"not LL(1): {c!r} starts two rules of {names[a]}")
                    fm[c] = k
            clash = {c for c, k in fm.items() if k != nul_k} & follow[a] if nul_k is not None else set()
            if clash:
                raise ValueError(f"not LL(1): {sorted(clash)} may start a rule of {names[a]} or follow its empty rule")
            first_map.append(fm)
            nullable_opt.append(nul_k)
        return first_map, nullable_opt

    # ------------------------------------------------------------------ the machine
    def _run(self, mode: str, src):
        """Run the stack machine over one sentence; return ``(tokens, per-token log-probs)``.

        ``mode`` says who makes the choices: ``"sample"`` (``src`` is ``random()``),
        ``"score"`` (``src`` is the token list ending in ``<STOP>``; the next token picks
        the rule), or ``"replay"`` (``src = (script, branching)``: choice indices to
        follow, and a list that receives the number of alternatives at each choice).
        All three share the probabilities below, so they cannot disagree. A token the
        language cannot produce ends a scored run with ``-inf``.
        """
        n_nt, kinds, budget = self._n_nt, self._kinds, self.rec_budget
        stack, out, lps, cur = [self._stop_id, self._start], [], [], 0.0
        names, mass, gender, named, q, p = [], 0.0, "f", 0, NOQ, NOP   # memory and guard flags
        score, sample = mode == "score", mode == "sample"
        if mode == "replay":
            script, branching = src

            def choose(n):
                i = len(branching)
                if i == len(script):
                    script.append(0)
                branching.append(n)
                return script[i]
        while stack:
            s = stack.pop()
            if s < n_nt:
                g = (len(out) < budget) | named | q | p
                if score:
                    k = self._first_map[s].get(self._class.get(src[len(out)]))
                    if k is None or self._opt_logp[s][g][k] is None:
                        k = self._nullable_opt[s]
                    lk = None if k is None else self._opt_logp[s][g][k]
                    if lk is None:
                        break
                else:
                    ks, cum = self._allowed[s][g]
                    k = ks[(bisect.bisect_right(cum, src()) if sample else choose(len(ks))) if len(ks) > 1 else 0]
                    lk = self._opt_logp[s][g][k]
                cur += lk
                stack.extend(self._rhs_rev[s][k])
                continue
            kind, data = kinds[s - n_nt]
            if score:                                    # the word: given, drawn or replayed
                w = src[len(out)]
            elif kind == "CAT":
                w = data[0][bisect.bisect_right(data[1], src()) if sample else choose(len(data[0]))]
            elif kind == "NAME":
                w = self._draw_name(src, names) if sample else self.categories["NAME"][choose(len(self._name_z))]
            else:
                w = data[gender] if kind == "PRON" else data
            if kind == "CAT":                            # its probability, and the memory update
                lw = data[2].get(w)
            elif kind == "NAME":
                lw = self._name_logprob(w, names, mass)
                if lw is not None:
                    if w not in names:
                        names.append(w)
                        mass += self._name_z[self._name_rank[w]]
                    gender, named = self.gender[w], NAMED
            elif kind == "PRON":
                lw = 0.0 if w == data[gender] else None
            else:
                lw = 0.0 if w == data else None
                if kind in ("QOPEN", "QCLOSE"):
                    q = 0 if kind == "QOPEN" else NOQ
                elif kind in ("POPEN", "PCLOSE"):
                    p = 0 if kind == "POPEN" else NOP
            if lw is None:
                break
            out.append(w)
            lps.append(cur + lw)
            cur = 0.0
            if kind == "STOP":
                return out, lps
        return out, lps + [-math.inf] * (len(src) - len(out))     # only a scored run gets here

    def _name_logprob(self, w, names, mass):
        """log p(name w | names so far): an earlier name (uniform) or a new one (Zipf over the unused names)."""
        if w not in self.gender:
            return None
        all_used = len(names) == len(self._name_z)
        p_ref = (1.0 if all_used else self.p_name_ref) if names else 0.0
        if w in names:
            return math.log(p_ref / len(names))
        return math.log((1 - p_ref) * self._name_z[self._name_rank[w]] / (1 - mass)) if p_ref < 1 else None

    def _draw_name(self, rand, names):
        if names and (len(names) == len(self._name_z) or rand() < self.p_name_ref):
            return names[int(rand() * len(names))]
        words, cum, _ = self._words["NAME"]
        while (w := words[bisect.bisect_right(cum, rand())]) in names:   # rejection keeps it exact
            pass
        return w

    # ------------------------------------------------------------------ public API
    def sample(self, n: int, rng=None, *, with_logprob: bool = False):
        """``n`` sentences as lists of tokens (no ``<START>``/``<STOP>``).

        ``rng``: an int (or str) seed, a ``random.Random`` (advanced in place, so
        successive calls continue one stream) or a ``numpy`` Generator (one draw
        seeds the stream). With ``with_logprob`` returns ``(sentences, logprobs)``.
        """
        if rng is None or isinstance(rng, (int, str)):
            rng = random.Random(0 if rng is None else rng)
        elif not isinstance(rng, random.Random):            # a numpy Generator
            rng = random.Random(int(rng.integers(2**63)))
        sents, lps = [], []
        for _ in range(n):
            toks, lp = self._run("sample", rng.random)
            sents.append(toks[:-1])
            lps.append(math.fsum(lp))
        return (sents, lps) if with_logprob else sents

    def token_logprobs(self, tokens, *, strict: bool = True) -> list:
        """Exact ``log p(w_t | w_<t)`` (nats) for every token and for the final ``<STOP>``.

        ``tokens`` may start with ``<START>`` and end with ``<STOP>`` (both dropped).
        A sentence the language cannot produce raises ``ValueError``; with
        ``strict=False`` the first impossible token and all after it get ``-inf``.
        """
        toks = list(tokens)
        toks = toks[toks[:1] == ["<START>"]:]
        toks = (toks[:-1] if toks[-1:] == [STOP] else toks) + [STOP]
        _, lps = self._run("score", toks)
        if strict and lps[-1] == -math.inf:
            i = lps.index(-math.inf)
            raise ValueError(f"not a sentence of this language: token {i} ({toks[i]!r}) "
                             f"cannot follow {' '.join(toks[:i][-12:])!r}")
        return lps

    def logprob(self, tokens) -> float:
        """Exact log-probability (nats) of a whole sentence; ``ValueError`` if it is impossible."""
        return math.fsum(self.token_logprobs(tokens))

    def is_grammatical(self, tokens) -> bool:
        """The recogniser: True iff the language produces ``tokens`` with probability > 0."""
        return self.token_logprobs(tokens, strict=False)[-1] > -math.inf

    def entropy_per_token(self, n: int = 20_000, seed: int = 0) -> Estimate:
        """Monte-Carlo entropy rate in nats per predicted token (``<STOP>`` counts as one).

        The ratio estimator sum(-log p) / sum(tokens) over ``n`` sampled sentences,
        averaged the way a language model's loss is; its standard error comes from
        the delta method.
        """
        sents, lps = self.sample(n, random.Random(f"entropy-{seed}"), with_logprob=True)
        return _ratio_estimate([-lp for lp in lps], [len(s) + 1 for s in sents])

    def enumerate_sentences(self, limit: int = 1_000_000) -> list:
        """Every sentence of a finite language (e.g. ``tiny()``) as ``(tokens, logprob)``.

        Walks all choice sequences like an odometer: replay a script of choices,
        then advance its last digit that still has alternatives.
        """
        out, script = [], []
        while len(out) < limit:
            branching = []
            toks, lps = self._run("replay", (script, branching))
            out.append((toks[:-1], math.fsum(lps)))
            del script[len(branching):]
            while script and script[-1] + 1 >= branching[len(script) - 1]:
                script.pop()
            if not script:
                return out
            script[-1] += 1
        raise RuntimeError(f"more than {limit} sentences: not a tiny language")

    def exact_entropy_per_token(self) -> float:
        """The exact entropy rate (nats per predicted token) of a finite language, by enumeration."""
        sents = self.enumerate_sentences()
        h = math.fsum(-math.exp(lp) * lp for _, lp in sents)
        return h / math.fsum(math.exp(lp) * (len(s) + 1) for s, lp in sents)

    def vocabulary(self) -> list:
        """All word types, each once: function words and punctuation first, then the open classes."""
        return [w for w in self._class if w != STOP]

    def grammar_text(self) -> str:
        """The rules, one line per symbol, for reading."""
        return "\n".join(f"{a:10s} -> " + " | ".join(f"{r or '(nothing)'} [{p:g}]" for p, r, _ in opts)
                         for a, opts in self.rules.items())

    def __repr__(self):
        return (f"SyntheticLanguage(seed={self.seed}, n_types={len(self.vocabulary())}, "
                f"p_first={self.p_first}, p_more={self.p_more}, p_list={self.p_list}, rec_budget={self.rec_budget})")


def _ratio_estimate(x, y) -> Estimate:
    """Ratio estimator sum(x)/sum(y) with its delta-method standard error."""
    n, r = len(x), math.fsum(x) / math.fsum(y)
    var = math.fsum((a - r * b) ** 2 for a, b in zip(x, y)) / (n - 1) if n > 1 else math.inf
    return Estimate(r, math.sqrt(var / n) / (math.fsum(y) / n), n, int(sum(y)))
