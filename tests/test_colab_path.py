"""The labs as a Colab user runs them: minilib pip-installed from the repository, the notebooks alone.

Method (offline but for PyPI; about a minute):
1. a clean venv; Colab's line of ipywidgets (7.7) is installed into it from PyPI;
2. torch, numpy, matplotlib, bertviz, ipykernel and the rest come from this test's own environment
   through a ``.pth`` file that appends its site-packages *after* the venv's own (Colab has them
   preinstalled; the venv's ipywidgets 7 wins over the 8 outside);
3. ``pip install 'minilib[viz] @ git+file://<this repository>'``: the setup cell's own command
   (``book/tools/colab_cells.py`` writes it), pointed at this clone instead of GitHub, so it installs
   what is committed here;
4. every lab is copied into an empty folder and executed there at ``smoke`` scale by a kernel
   running in the clean venv. A lab that errors fails the test, and so does one that shows no
   stored reference runs (they must reach a pip-installed minilib).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "tools"))
import colab_cells  # noqa: E402

LABS = subprocess.run(["git", "ls-files", "labs/*.ipynb"], cwd=ROOT, capture_output=True, text=True,
                      check=True).stdout.split()
IPYWIDGETS_COLAB = "ipywidgets==7.7.*"
MISSING_REFS = "no stored reference runs"
# What each lab prints only when it has read its stored reference runs (labs 4-6 also stop with an error
# when they find none; labs 1-3 warn with MISSING_REFS and go on). A new lab must name its own line here.
REFERENCE_SHOWN = {
    "labs/lab1_dot_vs_additive.ipynb": r"reference \(cpu, seed 0\)",
    "labs/lab2_qkv_sharing.ipynb": r"reference \(cpu, seed 0\)",
    "labs/lab3_masking.ipynb": r"reference \(cpu, seed 0\)",
    "labs/lab4_training_stability.ipynb": r"\d+ runs: \d+ variants, \d+ learning rates",
    "labs/lab5_bilstm_attention.ipynb": r"training time of the reference runs \(min\): attention \d",
    "labs/lab6_your_own_roberta.ipynb": r"stored runs: [^\n]*commit [0-9a-f]{7}",
}


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """A venv that looks like Colab: its own ipywidgets 7, everything else preinstalled, minilib from git."""
    if not (ROOT / ".git").exists():
        pytest.fail("the Colab path installs minilib from git: run the test in a git clone")
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "--no-deps", IPYWIDGETS_COLAB, "widgetsnbextension==3.6.*", "jupyterlab_widgets==1.1.*"])
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    outer = [p for p in site.getsitepackages() if Path(p, "torch").is_dir()]
    assert outer, "torch is not installed in the test's own environment"
    Path(purelib, "zz_preinstalled.pth").write_text("\n".join(outer) + "\n")
    # the setup cell's command, with this clone for GitHub
    repo_url, branch, _ = colab_cells.repository()
    source = colab_cells.setup_source(repo_url, branch)
    assert "git+{REPO}" in source and "minilib[viz]" in source, source
    _run([*pip, f"minilib[viz] @ git+file://localhost{ROOT}"], cwd=base)   # pip wants a host
    probe = ("import minilib, ipywidgets, bertviz, minilib.results as R; "
             "print(minilib.__file__); print(ipywidgets.__version__); print(len(list(R.RESULTS_DIR.glob('*.json'))))")
    file, widgets_version, n_refs = _run([str(py), "-I", "-c", probe], cwd=base).stdout.split()[-3:]
    assert Path(file).resolve().is_relative_to(venv.resolve()), f"minilib imported from {file}, not the install"
    assert widgets_version.startswith("7.7"), widgets_version
    assert int(n_refs) > 0, "the pip-installed minilib has no stored reference runs"
    kernels = base / "kernels" / "colab-like"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return base


@pytest.mark.parametrize("rel", LABS)
def test_lab_runs_from_a_pip_install_with_reference_runs(colab_like, rel, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    work = tmp_path / "content"                       # like Colab's /content: the notebook alone
    work.mkdir()
    shutil.copy(ROOT / rel, work)
    nb = nbformat.read(work / Path(rel).name, as_version=4)
    env = {"JUPYTER_PATH": str(colab_like), "MINILIB_SCALE": "smoke", "MINILIB_CACHE": str(tmp_path / "cache"),
           "PYTHONNOUSERSITE": "1", "IPYTHONDIR": str(tmp_path / "ipython")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client = NotebookClient(nb, kernel_name="colab-like", timeout=600, resources={"metadata": {"path": str(work)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert MISSING_REFS not in text, f"{rel}: the lab found no stored reference runs in a pip-installed minilib"
    assert re.search(REFERENCE_SHOWN[rel], text), f"{rel}: no stored reference run appears in the lab's output"


def test_every_lab_names_what_shows_its_reference_runs():
    assert sorted(REFERENCE_SHOWN) == sorted(LABS), "add the new lab's line to REFERENCE_SHOWN"
