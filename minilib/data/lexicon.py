"""The words of the synthetic language: real English function words plus seeded pseudo-words.

``build_lexicon(seed, n_types)`` returns category -> words (most frequent first). The
grammar (``grammar.py``) decides which category comes next; this module only decides
what the words look like and how many each category has.
"""
from __future__ import annotations

import random

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

# Open classes: share of the remaining type budget (nouns and verbs have 2 forms per lemma).
OPEN_CATS = {f"{c}_{n}" for c in ("N", "VI", "VT", "VS") for n in ("sg", "pl")} | {"ADJ", "ADV", "NAME", "NUM", "YEAR"}
OPEN_SHARES = {"N": 0.40, "VI": 0.09, "VT": 0.13, "VS": 0.012, "ADJ": 0.17,
               "ADV": 0.05, "NAME": 0.11, "NUM": 0.02, "YEAR": 0.02}
_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "dr", "gr", "kr", "pl", "st", "tr", "sh", "ch", "th", "sk", "fl")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "oo", "ou")
_CODAS = ("", "", "", "", "n", "r", "l", "m", "k", "t", "nd", "rk", "st", "sh")
_ADJ_SUFFIX = (("ic", "al", "ous", "y", "ish", "ful", "ant"), ("ful", "ny", "rous", "nic", "sk"))


def build_lexicon(seed: int, n_types: int, sizes: dict | None) -> dict:
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
