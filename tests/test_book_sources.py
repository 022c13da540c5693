"""The book's sources agree with each other: citations and the bibliography, glossary terms and their uses."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = subprocess.run(["git", "ls-files", "chapters/*.ipynb", "labs/*.ipynb", "book/*.ipynb", "book/*.md"],
                       cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
TERM = re.compile(r"\{term\}`([^`]+)`")


def _text(rel: str) -> str:
    path = ROOT / rel
    if path.suffix == ".ipynb":
        return "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    return path.read_text()


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(), re.M))


def test_every_citation_is_in_the_bibliography_and_every_entry_is_cited():
    cited = {}
    for rel in PAGES:
        for keys in CITE.findall(_text(rel)):
            for key in keys.split(","):
                cited.setdefault(key.strip(), rel)
    bib = _bib_keys()
    assert len(bib) >= 20
    missing = {k: rel for k, rel in cited.items() if k not in bib}
    assert not missing, f"cited but not in book/references.bib: {missing}"
    assert not bib - set(cited), f"entries no page cites (the References page would not list them): {bib - set(cited)}"


def test_every_glossary_reference_names_a_glossary_term():
    glossary = (ROOT / "book" / "glossary.md").read_text()
    body = glossary.split("```{glossary}", 1)[1]
    terms = {line.strip().lower() for line in body.splitlines() if line and not line.startswith((" ", ":", "`"))}
    assert len(terms) >= 40, sorted(terms)
    used = {}
    for rel in PAGES:
        for ref in TERM.findall(_text(rel)):
            target = re.search(r"<([^>]+)>$", ref)
            used.setdefault((target.group(1) if target else ref).strip().lower(), rel)   # as Sphinx: any case
    unknown = {t: rel for t, rel in used.items() if t not in terms}
    assert not unknown, f"{{term}} references to no glossary entry: {unknown}"
