"""minilib packages and installs as a wheel: what Colab gets from `pip install git+<repo>`.

Method (offline, ~10 s, no torch download):
1. ``pip wheel --no-deps --no-build-isolation`` builds the wheel from a copy of the package files
   (pyproject.toml, README.md, minilib/) with the setuptools already in the venv (build isolation
   would download it).
2. ``python -m venv --without-pip`` makes a clean venv (base interpreter of this venv), and the
   outer pip installs the wheel into it (``pip --python <venv> install --no-deps``).
3. A ``.pth`` file in the clean venv appends the outer venv's site-packages to ``sys.path`` *after*
   its own: torch, numpy and friends come from there, while ``minilib`` can only come from the
   wheel (a path listed in a .pth file is added without running the .pth files inside it, so the
   outer venv's editable install of minilib stays inert). The import runs with ``-I`` from a
   temporary directory, so neither PYTHONPATH nor the checkout can leak in; the test asserts
   ``minilib.__file__`` lies in the clean venv.

Checked: the wheel holds every tracked ``minilib/*.py``; its requirements are loose (no pins, no
upper bounds: installing it in Colab must never replace Colab's torch or widgets);
``minilib.__version__`` matches the wheel's version; ``minilib.attention`` imports and computes.
"""
from __future__ import annotations

import email
import shutil
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Build from a copy of what packaging reads, so setuptools' build/ and egg-info stay out of the checkout.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "minilib", src / "minilib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--disable-pip-version-check", "-q", "-w", str(out), str(src)], cwd=src)
    wheels = list(out.glob("minilib-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_contents_and_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_string(zf.read(meta_name).decode())
    tracked = subprocess.run(["git", "ls-files", "minilib/*.py"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    tracked += subprocess.run(["git", "ls-files", "minilib/reference_runs/*.json"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.split()
    missing = [p for p in tracked if p not in names]
    assert not missing, f"modules or reference runs missing from the wheel: {missing}"
    assert not [n for n in names if n.startswith(("tests/", "chapters/", "labs/", "book/"))]
    requires = meta.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("torch") for r in core), requires
    loose = [r for r in core if "==" in r or "<" in r or "~=" in r]
    assert not loose, f"minilib's requirements must stay loose (Colab keeps its own torch/widgets): {loose}"


def test_wheel_installs_and_imports_in_a_clean_venv(wheel, tmp_path):
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
          "--disable-pip-version-check", "-q", str(wheel)])
    purelib = _run([str(py), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    outer = [p for p in site.getsitepackages() if Path(p, "torch").is_dir()]
    assert outer, "torch is not installed in the test's own environment"
    Path(purelib, "zz_outer_site_packages.pth").write_text("\n".join(outer) + "\n")

    probe = textwrap.dedent('''
        import sys, torch, minilib
        from minilib.attention import attention
        from minilib.device import pick_device
        q = torch.randn(1, 2, 5, 8)
        out = attention(q, q, q)
        out = out[0] if isinstance(out, tuple) else out
        assert out.shape == q.shape, out.shape
        print(minilib.__file__)
        print(minilib.__version__)
        print(pick_device("cpu"))
    ''')
    r = _run([str(py), "-I", "-c", probe], cwd=tmp_path)
    file, version, device = r.stdout.split()[-3:]
    assert Path(file).resolve().is_relative_to(venv.resolve()), f"minilib imported from {file}, not from the wheel"
    assert wheel.name.startswith(f"minilib-{version}-"), (wheel.name, version)
    assert device == "cpu"


def test_module_index_matches_the_modules_that_exist():
    """``minilib``'s lazy index and its docstring list exactly the modules and subpackages on disk."""
    import minilib
    on_disk = {p.stem for p in (ROOT / "minilib").glob("*.py") if p.stem != "__init__"}
    on_disk |= {p.parent.name for p in (ROOT / "minilib").glob("*/__init__.py")}
    assert set(minilib._SUBMODULES) == on_disk
    for name in on_disk:
        assert f"``{name}``" in minilib.__doc__, f"minilib's docstring does not describe {name!r}"
        assert getattr(minilib, name).__name__ == f"minilib.{name}"


def test_every_subpackage_module_is_described_by_its_package():
    """Each subpackage's docstring names every module in it (the map a reader starts from)."""
    import importlib
    for init in (ROOT / "minilib").glob("*/__init__.py"):
        pkg = importlib.import_module(f"minilib.{init.parent.name}")
        for mod in init.parent.glob("*.py"):
            if mod.stem != "__init__":
                assert f"``{mod.stem}``" in pkg.__doc__, f"minilib.{init.parent.name} does not describe {mod.stem!r}"


def test_provenance_counts_code_changes_but_not_stored_results(tmp_path):
    """A run's own output (a reference run it just wrote) must not mark the next run as made from changed code."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "minilib" / "reference_runs").mkdir(parents=True)
    src = Path(__file__).resolve().parents[1] / "minilib" / "provenance.py"
    shutil.copy(src, repo / "minilib" / "provenance.py")
    (repo / "minilib" / "model.py").write_text("x = 1\n")
    (repo / "minilib" / "reference_runs" / "run.json").write_text("{}\n")
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=repo, check=True)
    probe = [sys.executable, "-c", "import provenance; print(provenance.git_commit()[1])"]
    status = lambda: subprocess.run(probe, cwd=repo / "minilib", capture_output=True, text=True,  # noqa: E731
                                    check=True).stdout.strip()
    assert status() == "False"
    (repo / "minilib" / "reference_runs" / "run.json").write_text('{"new": 1}\n')
    assert status() == "False"
    (repo / "minilib" / "model.py").write_text("x = 2\n")
    assert status() == "True"
