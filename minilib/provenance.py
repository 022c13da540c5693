"""Where a number came from: the commit, the machine, the versions and the load when it was measured."""
from __future__ import annotations

import datetime
import subprocess
from pathlib import Path


RESULT_DIRS = ("minilib/reference_runs", "benchmarks/results")


def git_commit(short: bool = True) -> tuple[str, bool | None]:
    """``(commit, uncommitted_changes)`` of the checkout minilib runs from; ``("unknown", None)`` outside git.
    Stored results (``minilib/reference_runs/``, ``benchmarks/results/``) are what runs write, not code: a change
    there does not count, so the second run of ``make reproduce`` is not marked by the first one's output."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                             text=True, cwd=here, timeout=5)
        if rev.returncode != 0 or not rev.stdout.strip():
            return "unknown", None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                *(f":(top,exclude){d}" for d in RESULT_DIRS)], capture_output=True,
                               text=True, cwd=here, timeout=5).stdout.strip()
        return rev.stdout.strip(), bool(dirty)
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def provenance(device) -> dict:
    """``device.describe`` (device, torch, threads, load) plus the date, the commit and minilib's version."""
    from . import __version__
    from .device import describe
    commit, dirty = git_commit()
    return describe(device) | {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit,
                               "uncommitted_changes": dirty, "minilib": __version__}
