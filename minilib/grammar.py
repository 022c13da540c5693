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

# Function words, most frequent first (their class is the word itself).
FUNCTION_WORDS = {
    "DA": ("the", "my", "their", "our", "your", "no"),          # determiners, either number
    "DS": ("a", "this", "every", "each", "another"),             # singular determiners
    "DP": ("some", "these", "those", "many", "few", "all"),      # plural determiners
    "PREP": ("of", "in", "with", "on", "from", "near", "under", "about", "behind", "for", "at", "without"),
    "SUB": ("because", "while", "when", "although", "since", "if"),
    "CONJ": ("and", "but", "so", "yet"),
    "BE_sg": ("is", "was"), "BE_pl": ("are", "were"),
    "DO_sg": ("does", "did"), "DO_pl": ("do", "did"),
    "MODAL": ("will", "can", "must", "may", "should", "might", "could"),
}
PRONOUNS = {"S": {"f": "she", "m": "he"}, "O": {"f": "her", "m": "him"}}
LITERALS = ("not", "that", "who", ",", ".", "!", ";", '"', "(", ")")
STOP = "<STOP>"
_SPECIAL = {"PRON_S": PRONOUNS["S"], "PRON_O": PRONOUNS["O"], "QOPEN": '"', "QCLOSE": '"', "POPEN": "(", "PCLOSE": ")"}

# Open classes: share of the remaining type budget (nouns and verbs have 2 forms per lemma).
OPEN_CATS = {f"{c}_{n}" for c in ("N", "VI", "VT", "VS") for n in ("sg", "pl")} | {"ADJ", "ADV", "NAME", "NUM", "YEAR"}
OPEN_SHARES = {"N": 0.40, "VI": 0.09, "VT": 0.13, "VS": 0.012, "ADJ": 0.17,
               "ADV": 0.05, "NAME": 0.11, "NUM": 0.02, "YEAR": 0.02}
_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "dr", "gr", "kr", "pl", "st", "tr", "sh", "ch", "th", "sk", "fl")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "oo", "ou")
_CODAS = ("", "", "", "", "n", "r", "l", "m", "k", "t", "nd", "rk", "st", "sh")
_ADJ_SUFFIX = (("ic", "al", "ous", "y", "ish", "ful", "ant"), ("ful", "ny", "rous", "nic", "sk"))

# Option guards: a rule is allowed only while its guard bits are all set.
REC, NAMED, NOQ, NOP = 1, 2, 4, 8   # under the token budget / a name seen / no open quote / no open paren


def _rules(p_first: float, p_more: float, p_list: float) -> dict:
    """The grammar: symbol -> [(probability, right-hand side, guard bits)].

    In a right-hand side, ``@X`` draws a word of category X, a name listed in the
    dict is a symbol, anything else is that literal token. Probabilities of the
    allowed options are renormalised when a guard switches some off.
    """
    R = {
        "S": [(1, "OPEN NP_V MORE_1 END", 0)],
        "OPEN": [(0.10, "@ADV ,", 0), (0.10, "@PREP NP_O ,", REC), (0.80, "", 0)],
        "END": [(0.93, ".", 0), (0.07, "!", 0)],
        "PAREN": [(0.45, "@YEAR", 0), (0.55, "NP_O", 0)],
        "NAMETAIL": [(0.07, ", who VP_sg ,", REC), (0.93, "", 0)],
        "SAY": [(0.5, ", @QOPEN NP_V MORE_S @QCLOSE", NOQ), (0.5, "that NP_V", 0)],
        "BASE": [(0.45, "@VI_pl VMOD", 0), (0.55, "@VT_pl NP_O", 0)],
        "PRED": [(0.7, "@ADJ", 0), (0.3, "@PREP NP_O", REC)],
        "VMOD": [(0.15, "@ADV", 0), (0.22, "@PREP NP_O", REC), (0.63, "", 0)],
    }
    # More clauses: how likely one more is depends on the last connective (lists run on).
    for x, p, run_on in (("1", p_first, 0.3), ("S", p_more, 0.3), ("L", p_list, 0.8)):
        R[f"MORE_{x}"] = [(p * w, f"{c} NP_V MORE_{k}", REC) for w, c, k in (
            ((1 - run_on) * 0.55, "and", "S"), ((1 - run_on) * 0.2, "but", "S"), ((1 - run_on) * 0.25, "@SUB", "S"),
            (run_on * 0.7, ", @CONJ", "L"), (run_on * 0.3, ";", "L"))]
        R[f"MORE_{x}"].append((1 - p, "", 0))
    # Noun phrases. The role k says what the phrase is followed by: V = its clause's verb
    # phrase (a subject), G = a transitive verb with a gap (subject of "that the cat sees"),
    # O = nothing (an object). The head noun's number picks the agreeing continuation.
    for k in "VGO":
        def cont(n, k=k):
            return {"V": f"VP_{n}", "G": f"GAP_{n}", "O": ""}[k]
        R[f"NP_{k}"] = [
            (0.30, f"@DA NPD_{k}_any", 0), (0.13, f"@DS NPD_{k}_sg", 0), (0.06, f"@DP NPD_{k}_pl", 0),
            (0.03, f"@NUM NPD_{k}_pl", 0), (0.06, f"@ADJ NPD_{k}_pl", 0),
            (0.07, f"@N_pl TAIL_pl {cont('pl')}", 0),
            (0.12, f"@NAME {'NAMETAIL ' if k == 'V' else ''}{cont('sg')}", 0),
            (0.08, f"@PRON_{'O' if k == 'O' else 'S'} {cont('sg')}", NAMED),
        ]
        for n, p_sg in (("any", 0.6), ("sg", 1.0), ("pl", 0.0)):
            R[f"NPD_{k}_{n}"] = [(0.24, f"@ADJ NPD_{k}_{n}", REC)] + [
                (0.76 * p, f"@N_{m} TAIL_{m} {cont(m)}", 0)
                for m, p in (("sg", p_sg), ("pl", 1 - p_sg)) if p > 0]
    for n in ("sg", "pl"):
        R[f"TAIL_{n}"] = [(0.16, "@PREP NP_O", REC), (0.10, f"that REL_{n}", REC),
                          (0.03, "@POPEN PAREN @PCLOSE", REC | NOP), (0.71, "", 0)]
        R[f"REL_{n}"] = [(0.55, f"VP_{n}", 0), (0.45, "NP_G", 0)]
        R[f"GAP_{n}"] = [(1, f"@VT_{n}", 0)]
        R[f"VP_{n}"] = [(0.24, f"@VI_{n} VMOD", 0), (0.32, f"@VT_{n} NP_O", 0), (0.07, f"@VS_{n} SAY", REC),
                        (0.15, f"@BE_{n} PRED", 0), (0.08, f"@DO_{n} not BASE", 0), (0.14, "@MODAL BASE", 0)]
    return R


class Estimate(NamedTuple):
    """A Monte-Carlo estimate: ``value`` ± ``stderr`` from ``n`` sentences (``tokens`` predicted tokens)."""
    value: float
    stderr: float
    n: int
    tokens: int


def _lexicon(seed: int, n_types: int, sizes: dict | None) -> dict:
    """Category -> words, most frequent first: real function words plus seeded pseudo-words.

    Pseudo-words are 1-3 syllables (frequent words are shorter, as in English). A noun's
    plural and a verb's 3rd-person singular add ``-s``; adjectives get English-looking
    endings, adverbs ``-ly``; names ending in a vowel are feminine (*she*), others masculine.
    """
    tiny = sizes is not None
    cats = {c: list(ws[:1] if tiny else ws) for c, ws in FUNCTION_WORDS.items()}
    used = set(LITERALS) | {w for ws in FUNCTION_WORDS.values() for w in ws} | {STOP}
    used |= {w for d in PRONOUNS.values() for w in d.values()}
    two = ("N", "VI", "VT", "VS")                        # classes with two forms per lemma
    if sizes is None:
        budget = n_types - len(used | {w for ws in cats.values() for w in ws}) + 1
        if budget < 40:
            raise ValueError(f"n_types must be at least {n_types - budget + 40}, got {n_types}")
        sizes = {c: max(1, int(budget * s / (2 if c in two else 1))) for c, s in OPEN_SHARES.items()}
        sizes["NUM"], sizes["YEAR"] = min(sizes["NUM"], 998), min(sizes["YEAR"], 1100)
        sizes["ADJ"] += budget - sum(v * (2 if c in two else 1) for c, v in sizes.items())  # exact total
    rng = random.Random(f"lexicon-{seed}")

    def stem(rank, lo=1):
        n = min(3, lo + (rank >= 40) + (rank >= 1500) + (rng.random() < 0.2))
        return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS)
                       + (rng.choice(_CODAS) if i == n - 1 or rng.random() < 0.2 else "") for i in range(n))

    def name(r):               # even ranks end in a vowel (she/her), odd ranks in a consonant (he/him)
        w = stem(r, lo=2).capitalize()
        if (r % 2 == 0) != (w[-1] in "aeiou"):
            w += rng.choice("aei" if r % 2 == 0 else "nrlk")
        return w

    def adjective(r):
        w = stem(r)
        return w + rng.choice(_ADJ_SUFFIX[w[-1] in "aeiou"])

    def forms(r):
        w = stem(r)
        return w, w + ("es" if w.endswith(("s", "sh", "ch")) else "s")

    def words(c, make):        # unique words (tuples of forms) for class c
        out = []
        while len(out) < sizes[c]:
            forms = make(len(out))
            if not used.intersection(forms) and len(set(forms)) == len(forms):
                used.update(forms)
                out.append(forms)
        return out
    for c in two:              # nouns: sg = stem, pl = stem+s; verbs: sg = stem+s, pl (and base) = stem
        pairs = words(c, forms)
        cats[f"{c}_sg"], cats[f"{c}_pl"] = [f[c != "N"] for f in pairs], [f[c == "N"] for f in pairs]
    cats["ADJ"] = [f[0] for f in words("ADJ", lambda r: (adjective(r),))]
    cats["ADV"] = [f[0] for f in words("ADV", lambda r: (stem(r) + "ly",))]
    cats["NAME"] = [f[0] for f in words("NAME", lambda r: (name(r),))]
    cats["NUM"] = [str(i) for i in range(2, 2 + sizes["NUM"])]
    cats["YEAR"] = [str(y) for y in rng.sample(range(1000, 2100), sizes["YEAR"])]
    return cats


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
        self.categories = _lexicon(seed, n_types, _sizes)
        self._compile(_rules(p_first, p_more, p_list))

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
                if name in _SPECIAL:
                    kind, data = ("PRON" if name.startswith("PRON") else name), _SPECIAL[name]
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
        n_nt, kinds, budget, words_of = self._n_nt, self._kinds, self.rec_budget, self._words
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
