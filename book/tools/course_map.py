"""Sphinx extension: the ``course-map`` directive, a table of the course's pages.

Each content line is ``docname | planned title | time | what you do``::

    ```{course-map}
    chapters/00_the_data | The data | 15 min | Meet the synthetic language.
    ```

A page that is in the table of contents when the book is built becomes a link
(titled with the page's own title); a planned page that has not landed yet is
listed in plain text as "in preparation", so the landing page never carries a
broken link (a broken ``{doc}`` link is a warning, and the build runs with -W).
The last row adds up the minutes.
"""
from __future__ import annotations

import re

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective


class CourseMap(SphinxDirective):
    has_content = True

    def _row(self, cells):
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell if isinstance(cell, nodes.Node) else nodes.paragraph(text=cell)
            row += entry
        return row

    def run(self):
        rows, minutes = [], 0
        for lineno, line in enumerate(self.content):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            if len(parts) != 4:
                raise self.error(f"course-map line {lineno + 1}: expected 'docname | title | time | summary', got {line!r}")
            docname, title, time, summary = parts
            para = nodes.paragraph()
            if docname in self.env.found_docs:
                ref = addnodes.pending_xref("", nodes.inline(text=title), refdomain="std", reftype="doc",
                                            reftarget="/" + docname, refexplicit=False, refwarn=True,
                                            refdoc=self.env.docname)
                para += ref
            else:
                para += nodes.emphasis(text=title)
                para += nodes.Text(" (in preparation)")
            summary_para = nodes.paragraph()
            text_nodes, _ = self.state.inline_text(summary, self.lineno + lineno)
            summary_para.extend(text_nodes)
            m = re.match(r"\s*(\d+)\s*min", time)
            minutes += int(m.group(1)) if m else 0
            rows.append([para, summary_para, time])
        total = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
        rows.append([nodes.paragraph(text="The whole course"),
                     nodes.paragraph(text="Reading and running, plus the labs' training runs."), total])

        table = nodes.table(classes=["course-map"])
        group = nodes.tgroup(cols=3)
        for width in (30, 52, 18):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        head += self._row(["Page", "What you do", "Time"])
        body = nodes.tbody()
        for cells in rows:
            body += self._row(cells)
        group += head
        group += body
        table += group
        return [table]


def setup(app):
    app.add_directive("course-map", CourseMap)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
