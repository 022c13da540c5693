#!/usr/bin/env python3
"""Give every notebook an "Open in Colab" badge and a Colab setup cell; idempotent.

For each notebook (default: ``chapters/*.ipynb``, ``labs/*.ipynb`` and ``book/*.ipynb``):

1. the first cell must be markdown starting with a ``# Title`` line; the badge
   ``[![Open In Colab](…colab-badge.svg)](https://colab.research.google.com/github/<org>/<repo>/blob/<branch>/<path>)``
   goes on the line after the title (an existing badge, wherever it is in that cell, is replaced);
2. the cell after it is the setup cell (tags ``colab-setup`` and ``hide-input``): inside
   Colab it ``%pip install``s minilib (with its ``viz`` extra, bertviz) from the repository and
   enables Colab's widget manager;
   anywhere else it only prints the device minilib will use. An existing cell tagged
   ``colab-setup`` is updated and moved there.

The repository URL and branch come from ``_config.yml`` (``repository.url``/``branch``), the one
place they live. Nothing else in a notebook changes; a notebook already up to date is not written.

Usage::

    python book/tools/colab_cells.py [--check] [NOTEBOOK ...]

``--check`` writes nothing and exits 1 if any notebook is out of date (listing them).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP_TAG = "colab-setup"
SETUP_ID = "colab-setup"
BADGE_IMG = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/[^)]*\)", re.I)
TITLE_RE = re.compile(r"^#\s+\S")

SETUP_TEMPLATE = '''\
# Setup. In Colab: install minilib (this course's library, with bertviz for the
# attention views) from the repository, keeping Colab's own PyTorch, and turn on
# Colab's widget manager. Elsewhere: nothing to install.
import sys
if "google.colab" in sys.modules:
    REPO = "{repo}"
    get_ipython().run_line_magic("pip", f"install -q 'minilib[viz] @ git+{{REPO}}'")
    from google.colab import output
    output.enable_custom_widget_manager()
from minilib.device import pick_device
print("minilib will use:", pick_device())'''


def _load_yaml(path: Path) -> dict:
    try:
        import yaml
        return yaml.safe_load(path.read_text()) or {}
    except ImportError:  # a tiny fallback for the two keys we need
        data, section = {}, None
        for line in path.read_text().splitlines():
            if re.match(r"^\S[^:]*:\s*(#.*)?$", line):
                section = line.split(":")[0].strip()
                data[section] = {}
            elif section and (m := re.match(r"^\s+(\w+):\s*([^#]*)", line)):
                data[section][m.group(1)] = m.group(2).strip().strip("\"'")
        return data


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str, str]:
    """(repository URL, branch, path_to_book) from _config.yml."""
    repo = _load_yaml(config).get("repository") or {}
    url = str(repo.get("url", "")).rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    if not re.match(r"^https://github\.com/[^/]+/[^/]+$", url):
        raise SystemExit(f"{config}: repository.url must be https://github.com/<org>/<repo>, got {url!r}")
    return url, str(repo.get("branch") or "main"), str(repo.get("path_to_book") or "").strip("/")


def colab_url(nb_path: str, repo_url: str, branch: str) -> str:
    """The Colab URL that opens ``nb_path`` (relative to the repository root) from GitHub."""
    org_repo = repo_url.split("github.com/", 1)[1]
    return f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{nb_path}"


def badge(nb_path: str, repo_url: str, branch: str) -> str:
    return f"[![Open In Colab]({BADGE_IMG})]({colab_url(nb_path, repo_url, branch)})"


def setup_source(repo_url: str, branch: str) -> str:
    return SETUP_TEMPLATE.format(repo=f"{repo_url}@{branch}")


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form of a source: lines, each but the last ending in a newline."""
    return text.splitlines(keepends=True)


def _with_badge(md: str, badge_md: str, where: str) -> str:
    lines = [ln for ln in md.split("\n") if not BADGE_RE.fullmatch(ln.strip())]
    text = "\n".join(lines)
    text = BADGE_RE.sub("", text)                                 # a badge inline in another line
    lines = text.split("\n")
    title = next((i for i, ln in enumerate(lines) if TITLE_RE.match(ln)), None)
    if title is None or any(ln.strip() for ln in lines[:title]):
        raise ValueError(f"{where}: the first cell must be markdown that starts with a '# Title' line")
    rest = lines[title + 1:]
    while rest and not rest[0].strip():
        rest.pop(0)
    out = lines[: title + 1] + ["", badge_md]
    if rest:
        out += [""] + rest
    return "\n".join(out)


def update_notebook(nb: dict, nb_path: str, repo_url: str, branch: str) -> dict:
    """The notebook with badge and setup cell in place (a new dict; ``nb`` is not modified)."""
    nb = json.loads(json.dumps(nb))
    cells = nb.setdefault("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown":
        raise ValueError(f"{nb_path}: the first cell must be markdown that starts with a '# Title' line")
    first = cells[0]
    new_md = _with_badge(_text(first.get("source", "")), badge(nb_path, repo_url, branch), nb_path)
    if new_md != _text(first.get("source", "")):
        first["source"] = _lines(new_md)

    existing = [i for i, c in enumerate(cells) if SETUP_TAG in (c.get("metadata", {}).get("tags") or [])]
    if existing:
        cell = cells[existing[0]]
        for i in reversed(existing):                              # one setup cell, no more
            del cells[i]
    else:
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": []}
        if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) >= (4, 5):
            ids = {c.get("id") for c in cells}
            cell["id"] = SETUP_ID if SETUP_ID not in ids else f"{SETUP_ID}-cell"
    cell["cell_type"] = "code"
    cell.setdefault("outputs", [])
    cell.setdefault("execution_count", None)
    meta = cell.setdefault("metadata", {})
    tags = [t for t in (meta.get("tags") or []) if t not in (SETUP_TAG, "hide-input")]
    meta["tags"] = [SETUP_TAG, "hide-input"] + tags
    src = setup_source(repo_url, branch)
    if _text(cell.get("source", "")) != src:
        cell["source"] = _lines(src)
    cells.insert(1, cell)
    return nb


def dumps(nb: dict) -> str:
    """Serialise as nbformat does (sorted keys, one-space indent, UTF-8, final newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def default_notebooks() -> list[Path]:
    return sorted(p for d in ("chapters", "labs", "book") for p in (ROOT / d).glob("*.ipynb"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: chapters/*.ipynb labs/*.ipynb book/*.ipynb")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook is out of date")
    ap.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    ap.add_argument("--root", type=Path, default=None,
                    help="repository root the notebook paths are relative to (default: the config's folder)")
    args = ap.parse_args(argv)
    repo_url, branch, book_path = repository(args.config)
    root = (args.root or args.config.resolve().parent).resolve()
    paths = args.notebooks or default_notebooks()
    stale, errors = [], []
    for path in paths:
        path = path.resolve()
        rel = path.relative_to(root).as_posix()
        if book_path:
            rel = f"{book_path}/{rel}"
        raw = path.read_text(encoding="utf-8")
        try:
            nb = json.loads(raw)
            new = update_notebook(nb, rel, repo_url, branch)
        except ValueError as e:
            errors.append(str(e))
            continue
        if new == nb:
            continue
        stale.append(rel)
        if not args.check:
            path.write_text(dumps(new), encoding="utf-8")
            print(f"updated {rel}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if args.check and stale:
        print("out of date (run python book/tools/colab_cells.py):\n  " + "\n  ".join(stale), file=sys.stderr)
    return 1 if errors or (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
