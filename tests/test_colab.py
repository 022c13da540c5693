"""Every notebook opens in Colab and sets itself up there, and only there.

- its first cell is markdown: the ``# Title``, then an "Open in Colab" badge whose link opens
  this very notebook from the repository named in ``_config.yml`` (``repository.url``, the one
  place the URL lives);
- its first code cell is the setup cell (tags ``colab-setup``, ``hide-input``), which is run
  here in a fresh interpreter with a stand-in ``get_ipython()`` that records magics:
  without ``google.colab`` it runs no magic (installs nothing) and prints the device; with a
  stand-in ``google.colab`` module it ``%pip install``s minilib from the repository (nothing
  that would replace Colab's torch) and enables Colab's widget manager;
- ``book/tools/colab_cells.py --check`` passes, and the script itself is idempotent and
  preserves everything else (tested on copies).
"""
from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import colab_cells  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"].get("branch", "main")
ORG_REPO = REPO_URL.removeprefix("https://github.com/")


def committed_notebooks() -> list[str]:
    out = subprocess.run(["git", "ls-files", "chapters/*.ipynb", "labs/*.ipynb"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [p for p in out.split() if (ROOT / p).exists()]


NOTEBOOKS = committed_notebooks()


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _load(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_first_cell_has_title_and_badge_to_itself(rel):
    cells = _load(rel)["cells"]
    assert cells and cells[0]["cell_type"] == "markdown", f"{rel}: first cell must be markdown"
    lines = [ln for ln in _src(cells[0]).splitlines() if ln.strip()]
    assert lines and lines[0].startswith("# "), f"{rel}: first cell must start with '# Title'"
    expected = f"https://colab.research.google.com/github/{ORG_REPO}/blob/{BRANCH}/{rel}"
    assert len(lines) > 1 and "Open In Colab" in lines[1] and f"]({expected})" in lines[1], (
        f"{rel}: the line after the title must be the Colab badge linking to {expected}; got {lines[1:2]}")


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_setup_cell_is_the_first_code_cell(rel):
    cells = _load(rel)["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, f"{rel}: no code cell"
    tags = code[0].get("metadata", {}).get("tags", [])
    assert "colab-setup" in tags and "hide-input" in tags, f"{rel}: first code cell is not the setup cell ({tags})"
    assert cells[1] is code[0], f"{rel}: the setup cell must come right after the title cell"
    assert sum("colab-setup" in c.get("metadata", {}).get("tags", []) for c in cells) == 1


# Runs a setup cell's source with a recording get_ipython(); optionally pretends to be Colab.
RUNNER = textwrap.dedent('''
    import json, sys, types
    calls = []
    class Shell:
        def run_line_magic(self, name, line):
            calls.append(["magic", name, line])
        def system(self, cmd):
            calls.append(["system", cmd])
    shell = Shell()
    builtins_ns = {"get_ipython": lambda: shell}
    if sys.argv[1] == "colab":
        google = types.ModuleType("google"); colab = types.ModuleType("google.colab")
        output = types.ModuleType("google.colab.output")
        output.enable_custom_widget_manager = lambda: calls.append(["widgets"])
        colab.output = output; google.colab = colab
        sys.modules.update({"google": google, "google.colab": colab, "google.colab.output": output})
    import subprocess, os
    real_popen = subprocess.Popen
    def no_popen(*a, **k):
        calls.append(["subprocess", str(a[0] if a else k.get("args"))])
        return real_popen(*a, **k)
    subprocess.Popen = no_popen
    os.system = lambda cmd: calls.append(["os.system", cmd]) or 0
    source = open(sys.argv[2]).read()
    exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__", **builtins_ns})
    print("CALLS=" + json.dumps(calls))
''')


def _run_setup(source: str, mode: str, tmp_path: Path) -> tuple[list, str]:
    cell = tmp_path / f"cell_{mode}.py"
    cell.write_text(source)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    r = subprocess.run([sys.executable, str(runner), mode, str(cell)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120, env={"PATH": "/usr/bin:/bin", "MINILIB_DEVICE": "cpu",
                                                   "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr[-3000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("CALLS=")][-1]
    return json.loads(line[len("CALLS="):]), r.stdout


def _setup_sources() -> dict[str, list[str]]:
    """Each distinct setup-cell source, with the notebooks that carry it."""
    by_source: dict[str, list[str]] = {}
    for rel in NOTEBOOKS:
        for c in _load(rel)["cells"]:
            if "colab-setup" in c.get("metadata", {}).get("tags", []):
                by_source.setdefault(_src(c), []).append(rel)
    # the script's own template too, so the behaviour is tested even before notebooks carry it
    by_source.setdefault(colab_cells.setup_source(REPO_URL, BRANCH), []).append("<colab_cells.py template>")
    return by_source


@pytest.mark.parametrize("source,users", list(_setup_sources().items()), ids=lambda v: "" if isinstance(v, str) else v[0])
def test_setup_cell_is_a_no_op_outside_colab_and_installs_in_colab(source, users, tmp_path):
    calls, out = _run_setup(source, "local", tmp_path)
    assert calls == [], f"{users}: outside Colab the setup cell must not install or run anything: {calls}"
    assert "minilib will use: cpu" in out, f"{users}: the setup cell should print the device: {out!r}"

    calls, out = _run_setup(source, "colab", tmp_path)
    magics = [c for c in calls if c[0] == "magic"]
    assert len(magics) == 1 and magics[0][1] == "pip", f"{users}: in Colab expected one %pip call: {calls}"
    args = shlex.split(magics[0][2])
    assert args[0] == "install" and f"minilib[viz] @ git+{REPO_URL}@{BRANCH}" in args, f"{users}: {magics[0]}"
    assert not {"-U", "--upgrade", "--force-reinstall", "torch", "--upgrade-strategy=eager"} & set(args), (
        f"{users}: the install must leave Colab's torch alone: {magics[0]}")
    assert ["widgets"] in calls, f"{users}: Colab's custom widget manager is not enabled"
    assert not [c for c in calls if c[0] in ("subprocess", "os.system")], calls


def test_colab_cells_check_passes():
    r = subprocess.run([sys.executable, str(ROOT / "book" / "tools" / "colab_cells.py"), "--check", *NOTEBOOKS],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- the script, on copies
def _nb(cells, minor=5):
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": minor}


def _md(text, id_="a1"):
    return {"cell_type": "markdown", "id": id_, "metadata": {}, "source": text}


def _code(text, id_="c1", tags=None):
    meta = {"tags": tags} if tags else {}
    return {"cell_type": "code", "id": id_, "metadata": meta, "execution_count": None, "outputs": [], "source": text}


def test_script_inserts_updates_and_is_idempotent(tmp_path):
    nb = _nb([_md("# A title\nSome *intro*.\n\nMore."), _code("x = 1", tags=["remove-input"]), _md("end", "z9")])
    path = tmp_path / "labs" / "lab9.ipynb"
    path.parent.mkdir()
    path.write_text(colab_cells.dumps(nb))
    cfg = tmp_path / "_config.yml"
    cfg.write_text("repository:\n  url: https://github.com/org/repo\n  branch: main\n")

    assert colab_cells.main(["--config", str(cfg), "--check", str(path)]) == 1
    assert colab_cells.main(["--config", str(cfg), str(path)]) == 0
    once = path.read_text()
    assert colab_cells.main(["--config", str(cfg), "--check", str(path)]) == 0
    assert colab_cells.main(["--config", str(cfg), str(path)]) == 0
    assert path.read_text() == once, "a second run must not change the notebook"

    new = json.loads(once)
    first = _src(new["cells"][0]).split("\n")
    assert first[0] == "# A title" and first[2] == (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/org/repo/blob/main/labs/lab9.ipynb)")
    assert "Some *intro*." in _src(new["cells"][0]) and _src(new["cells"][0]).endswith("More.")
    assert new["cells"][1]["metadata"]["tags"] == ["colab-setup", "hide-input"]
    assert 'REPO = "https://github.com/org/repo@main"' in _src(new["cells"][1])
    assert new["cells"][2] == nb["cells"][1] and new["cells"][3] == nb["cells"][2], "other cells must not change"
    assert new["metadata"] == nb["metadata"]

    # the repository moves: badge and setup cell follow _config.yml, nothing is duplicated
    cfg.write_text("repository:\n  url: https://github.com/neworg/newrepo\n  branch: main\n")
    assert colab_cells.main(["--config", str(cfg), "--check", str(path)]) == 1
    assert colab_cells.main(["--config", str(cfg), str(path)]) == 0
    moved = json.loads(path.read_text())
    assert len(moved["cells"]) == 4
    assert _src(moved["cells"][0]).count("Open In Colab") == 1 and "neworg/newrepo/blob/main/labs" in _src(moved["cells"][0])
    assert 'REPO = "https://github.com/neworg/newrepo@main"' in _src(moved["cells"][1])


def test_script_moves_an_existing_setup_cell_and_rejects_untitled_notebooks(tmp_path):
    setup = _code("old setup", "s1", tags=["colab-setup", "other"])
    nb = _nb([_md("# T"), _code("a = 1"), setup])
    out = colab_cells.update_notebook(copy.deepcopy(nb), "chapters/x.ipynb", "https://github.com/o/r", "main")
    assert [c.get("id") for c in out["cells"]] == ["a1", "s1", "c1"]
    assert out["cells"][1]["metadata"]["tags"] == ["colab-setup", "hide-input", "other"]
    with pytest.raises(ValueError):
        colab_cells.update_notebook(_nb([_code("no title")]), "chapters/y.ipynb", "https://github.com/o/r", "main")
    with pytest.raises(ValueError):
        colab_cells.update_notebook(_nb([_md("no title here")]), "chapters/y.ipynb", "https://github.com/o/r", "main")
