"""One way to refuse a bad choice: name what was wrong and list what is allowed.

    check_choice("masking", "0", ("-inf", "zero"))
    # ValueError: unknown masking '0'; valid choices are '-inf', 'zero'
"""
from __future__ import annotations


def check_choice(what: str, value, choices, *, extra: str = ""):
    """Return ``value`` if it is one of ``choices``; else raise a ``ValueError`` that lists them."""
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; valid choices are {', '.join(map(repr, choices))}{extra}")
    return value
