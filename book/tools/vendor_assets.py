#!/usr/bin/env python3
"""Fetch the JavaScript the built book needs, so that it reads without a network.

The HTML book would otherwise load, at view time,
- MathJax (Sphinx's default is a jsDelivr URL),
- require.js and the ipywidgets HTML manager (myst-nb's defaults: cdnjs and jsDelivr),
- require.js, d3 and jQuery for bertviz's views (cdnjs URLs inside the notebook outputs).

This script downloads pinned versions of those packages from the npm registry
(``npm pack``; a plain HTTPS download of the same tarball where npm is missing),
checks each tarball against its pinned sha512 integrity, and unpacks only the
files a page needs into ``book/vendor/static/vendor/<name>/``. The Sphinx
extension ``book/tools/offline_html.py`` serves that folder as part of
``_static/`` and points the pages at it. Nothing here is committed:
``book/vendor/`` is git-ignored.

- Idempotent: a stamp records what was unpacked; a second run does nothing (milliseconds).
- Cached: tarballs stay in ``book/vendor/cache/`` (or ``$ABE_VENDOR_CACHE``), so after
  the first fetch the build is offline.
- Fails with a clear message (exit 1) when a tarball is neither cached nor fetchable.

Usage: ``python book/tools/vendor_assets.py [--check] [--quiet]`` (``--check``: only
report whether the vendored tree is complete; exit 1 if not).
"""
from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1]          # book/
VENDOR = BOOK / "vendor"
STATIC = VENDOR / "static"                          # served as _static/ (html_static_path)
TARGET = STATIC / "vendor"                          # -> _build/html/_static/vendor/<name>/
CACHE = Path(os.environ.get("ABE_VENDOR_CACHE", VENDOR / "cache"))
STAMP = STATIC / ".vendored.json"
REGISTRY = os.environ.get("ABE_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")

# name in the book -> npm package, pinned version, sha512 integrity (as npm reports it),
# and which files of the package (globs relative to "package/") go where.
PACKAGES = {
    "mathjax": {
        # MathJax 3, as Sphinx 7 loads it; the combined component plus the pieces it loads on demand
        # (TeX extensions, CHTML fonts, menu, assistive MathML). Not the SVG output or the speech engine.
        "npm": "mathjax", "version": "3.2.2",
        "integrity": "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "strip": "es5/",
        "files": ["es5/tex-mml-chtml.js", "es5/input/*", "es5/output/chtml/*", "es5/output/chtml.js",
                  "es5/ui/*", "es5/a11y/*", "es5/adaptors/*", "LICENSE"],
    },
    "requirejs": {
        # the AMD loader that the widget manager and bertviz expect (bertviz asks for 2.3.6)
        "npm": "requirejs", "version": "2.3.6",
        "integrity": "sha512-ipEzlWQe6RK3jkzikgCupiTbTvm4S0/CAU5GlgptkN5SO6F3u0UD0K18wy6ErDqiCyP4J4YYe1HuAShvsxePLg==",
        "strip": "", "files": ["require.js", "README.md"],
    },
    "html-manager": {
        # @jupyter-widgets/html-manager 1.x renders ipywidgets 8 state embedded in a page;
        # embed-amd.js is self-contained (it defines libembed-amd and renders); the Font Awesome fonts
        # for widget icons sit beside it (woff2/woff/ttf; the .eot/.svg fallbacks are for IE and old iOS).
        "npm": "@jupyter-widgets/html-manager", "version": "1.0.15",
        "integrity": "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "strip": "dist/",
        "files": ["dist/embed-amd.js", "dist/*.woff", "dist/*.woff2", "dist/*.ttf", "dist/*.LICENSE.txt"],
    },
    "d3": {
        "npm": "d3", "version": "5.7.0",                # the version bertviz requests
        "integrity": "sha512-8KEIfx+dFm8PlbJN9PI0suazrZ41QcaAufsKE9PRcqYPWLngHIyWJZX96n6IQKePGgeSu0l7rtlueSSNq8Zc3g==",
        "strip": "dist/", "files": ["dist/d3.min.js", "LICENSE"],
    },
    "jquery": {
        "npm": "jquery", "version": "2.2.4",            # bertviz asks for 2.0.0, which npm never had; 2.2.4 is the last 2.x
        "integrity": "sha512-lBHj60ezci2u1v2FqnZIraShGgEXq35qCzMv4lITyHGppTnA13rwR0MgwyNJh9TnDs3aXUvd1xjAotfraMHX/Q==",
        "strip": "dist/", "files": ["dist/jquery.min.js", "LICENSE.txt"],
    },
}


class VendorError(RuntimeError):
    pass


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[vendor] {msg}", flush=True)


def tarball_name(spec: dict) -> str:
    """The file name ``npm pack`` writes: scope and slash folded, e.g. jupyter-widgets-html-manager-1.0.15.tgz."""
    return f"{spec['npm'].lstrip('@').replace('/', '-')}-{spec['version']}.tgz"


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _fetch_npm(spec: dict, dest: Path) -> None:
    npm = shutil.which("npm")
    ref = f"{spec['npm']}@{spec['version']}"
    if npm:
        cmd = [npm, "pack", ref, "--pack-destination", str(dest), "--loglevel=error",
               "--registry", REGISTRY + "/", "--fetch-retries", "1", "--fetch-timeout", "30000"]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired as e:
            raise VendorError(f"`npm pack {ref}` timed out after 180 s") from e
        if r.returncode != 0:
            head = "\n  ".join(r.stderr.strip().splitlines()[:4])
            raise VendorError(f"`npm pack {ref}` failed (exit {r.returncode}):\n  {head}")
        return
    # No npm: the same tarball over HTTPS, as npm itself would download it.
    base = spec["npm"].split("/")[-1]
    url = f"{REGISTRY}/{spec['npm']}/-/{base}-{spec['version']}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            (dest / tarball_name(spec)).write_bytes(resp.read())
    except OSError as e:
        raise VendorError(f"downloading {url} failed: {e}") from e


def ensure_tarball(spec: dict, quiet: bool = False) -> Path:
    """The cached tarball of ``spec``, downloaded (and integrity-checked) if it is not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / tarball_name(spec)
    if path.exists() and _integrity(path) == spec["integrity"]:
        return path
    _log(f"fetching {spec['npm']}@{spec['version']} from {REGISTRY}", quiet)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        try:
            _fetch_npm(spec, Path(tmp))
        except VendorError as e:
            raise VendorError(
                f"{e}\n\nThe book serves MathJax, require.js, the ipywidgets HTML manager, d3 and jQuery itself so\n"
                f"that it reads offline; they are fetched once from the npm registry ({REGISTRY}) and cached\n"
                f"in {CACHE}. The registry could not be reached. Either connect once and rerun, point\n"
                f"ABE_NPM_REGISTRY at a reachable mirror, or copy {tarball_name(spec)} into {CACHE}."
            ) from None
        got = Path(tmp) / tarball_name(spec)
        if not got.exists():
            raise VendorError(f"npm pack wrote no {got.name} (found: {sorted(p.name for p in Path(tmp).iterdir())})")
        actual = _integrity(got)
        if actual != spec["integrity"]:
            raise VendorError(f"{got.name}: integrity mismatch\n  expected {spec['integrity']}\n  got      {actual}")
        os.replace(got, path)
    return path


def _wanted(member: str, spec: dict) -> str | None:
    """Destination (relative to the package's vendor folder) of a tar member, or None to skip it."""
    if not member.startswith("package/"):
        return None
    rel = member[len("package/"):]
    if not any(fnmatch.fnmatch(rel, pat) for pat in spec["files"]):
        return None
    if rel.endswith(".map"):
        return None
    strip = spec["strip"]
    return rel[len(strip):] if strip and rel.startswith(strip) else rel


def unpack(name: str, spec: dict, tgz: Path, into: Path) -> int:
    """Copy the wanted files of ``tgz`` into ``into/name``; returns bytes written."""
    total = 0
    with tarfile.open(tgz, "r:gz") as tf:
        for m in tf.getmembers():
            if not m.isfile():
                continue
            dest_rel = _wanted(m.name, spec)
            if dest_rel is None or ".." in Path(dest_rel).parts:
                continue
            dest = into / name / dest_rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = tf.extractfile(m).read()
            dest.write_bytes(data)
            total += len(data)
    if total == 0:
        raise VendorError(f"{tgz.name}: none of {spec['files']} found in the package")
    return total


def _manifest() -> dict:
    return {name: {k: spec[k] for k in ("npm", "version", "integrity", "files")} for name, spec in PACKAGES.items()}


def is_current() -> bool:
    try:
        return json.loads(STAMP.read_text())["packages"] == _manifest() and all(
            (TARGET / name).is_dir() for name in PACKAGES)
    except (OSError, ValueError, KeyError):
        return False


def ensure(quiet: bool = False) -> dict:
    """Make ``book/vendor/static/vendor/`` complete; returns the stamp (sizes, seconds)."""
    if is_current():
        return json.loads(STAMP.read_text())
    t0 = time.time()
    tarballs = {name: ensure_tarball(spec, quiet) for name, spec in PACKAGES.items()}
    STATIC.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=STATIC, prefix=".staging-"))
    try:
        sizes = {name: unpack(name, PACKAGES[name], tgz, staging) for name, tgz in tarballs.items()}
        if TARGET.exists():
            shutil.rmtree(TARGET)
        os.replace(staging, TARGET)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    stamp = {"packages": _manifest(), "bytes": sizes, "seconds": round(time.time() - t0, 2)}
    STAMP.write_text(json.dumps(stamp, indent=1))
    _log(f"vendored {len(sizes)} packages, {sum(sizes.values()) / 1e6:.1f} MB, into "
         f"{TARGET.relative_to(BOOK.parent)} in {stamp['seconds']} s", quiet)
    return stamp


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 unless the vendored tree is complete")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.check:
        ok = is_current()
        print("vendored assets are up to date" if ok else "vendored assets are missing or out of date")
        return 0 if ok else 1
    try:
        ensure(args.quiet)
    except VendorError as e:
        print(f"[vendor] ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
