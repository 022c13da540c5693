"""What a page shows of a notebook must fit the book's column: code lines (in code cells and in the
code blocks of the text) of at most 88 characters; the browser test measures the rest."""
import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_CODE_LINE = 88
NOTEBOOKS = subprocess.run(["git", "ls-files", "chapters/*.ipynb", "labs/*.ipynb", "book/*.ipynb"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_code_lines_fit_the_column(rel):
    nb = json.loads((ROOT / rel).read_text())
    long = []
    for i, cell in enumerate(nb["cells"]):
        lines = "".join(cell["source"]).splitlines()
        if cell["cell_type"] == "markdown":              # code blocks in the text (solutions) too
            fences = [n for n, line in enumerate(lines) if line.lstrip().startswith("```")]
            lines = [line for a, b in zip(fences[::2], fences[1::2]) for line in lines[a + 1:b]]
        elif cell["cell_type"] != "code":
            continue
        for n, line in enumerate(lines, 1):
            if len(line) > MAX_CODE_LINE:
                long.append(f"cell {i} line {n} ({len(line)} chars): {line[:60]}…")
    assert not long, f"{rel}: code lines over {MAX_CODE_LINE} characters scroll sideways on the page:\n" + "\n".join(long)


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_committed_without_outputs(rel):
    nb = json.loads((ROOT / rel).read_text())
    with_outputs = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("outputs")]
    assert not with_outputs, f"{rel}: cells {with_outputs} carry outputs; the book build executes notebooks"
