"""Tables in a notebook: one renderer for every table the course shows.

``Table`` renders as HTML in a notebook (and on the book's pages), as aligned text in a
terminal, and as Markdown (``to_markdown``). Rows are lists of cells, or dicts read by column
(``Table.from_records``); floats are shown in a short form unless a cell is already a string.
"""
from __future__ import annotations

import html
import math


def fmt(value) -> str:
    """A cell as text: floats in short form (``0`` for zero, ``–`` for NaN), None as empty."""
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return "0" if value == 0 else f"{value:.3g}"
    return "" if value is None else str(value)


class Table:
    """``Table(header, rows, title="", note="")``: a small table for notebooks and terminals."""

    def __init__(self, header, rows, title="", note=""):
        self.header = [str(h) for h in header]
        self.rows = [[fmt(c) for c in r] for r in rows]
        self.title, self.note = title, note
        bad = [r for r in self.rows if len(r) != len(self.header)]
        if bad:
            raise ValueError(f"a row has {len(bad[0])} cells but the header has {len(self.header)}: {bad[0]}")

    @classmethod
    def from_records(cls, records, columns=None, **kw) -> "Table":
        """One row per dict in ``records``; ``columns`` (default: the first record's keys) picks and orders them."""
        records = list(records)
        columns = list(columns or (records[0] if records else []))
        return cls(columns, [[r.get(c) for c in columns] for r in records], **kw)

    def column(self, name) -> list:
        """The cells (as text) of one column."""
        i = self.header.index(name)
        return [r[i] for r in self.rows]

    def _repr_html_(self):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows)
        cap = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        note = f"<p class='table-note' style='font-size:85%'>{html.escape(self.note)}</p>" if self.note else ""
        return f"<table class='table'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"

    def to_markdown(self) -> str:
        cell = lambda c: c.replace("|", "\\|")
        lines = ["| " + " | ".join(map(cell, self.header)) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(map(cell, r)) + " |" for r in self.rows]
        return "\n".join(([f"**{self.title}**", ""] if self.title else []) + lines) + "\n"

    def __str__(self):
        widths = [max(len(x) for x in col) for col in zip(self.header, *self.rows)]
        line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))
        return "\n".join(([self.title] if self.title else []) + [line(self.header)] + [line(r) for r in self.rows])

    __repr__ = __str__
