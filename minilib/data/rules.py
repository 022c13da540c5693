"""The rules of the synthetic language: which symbol may follow which, and with what probability.

``build_rules`` returns the grammar as data; ``grammar.SyntheticLanguage`` compiles it into
a stack machine that samples and scores sentences exactly.
"""
from __future__ import annotations

from .lexicon import PRONOUNS

# Terminals the grammar fills in itself (a pronoun agrees with the latest name; quotes and parentheses).
SPECIAL_TERMINALS = {"PRON_S": PRONOUNS["S"], "PRON_O": PRONOUNS["O"], "QOPEN": '"', "QCLOSE": '"', "POPEN": "(", "PCLOSE": ")"}

# Option guards: a rule is allowed only while its guard bits are all set.
REC, NAMED, NOQ, NOP = 1, 2, 4, 8   # under the token budget / a name seen / no open quote / no open paren


def build_rules(p_first: float, p_more: float, p_list: float) -> dict:
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
