"""The one command line behind every family of stored reference runs (``make reproduce`` calls them).

Every family takes the same four options (``--scale``, ``--seeds``, its variants, ``--skip-existing``) and
stores one JSON file per (variant, scale, seed); ``parser`` builds those options and ``store_runs`` makes,
saves and reports the runs, so a family's ``main`` only says what a run is and how to describe it.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Iterable

SCALES = ("smoke", "cpu", "paper")


def parser(prog: str, description: str, variants, *, flag: str = "--variants", scales=SCALES,
           seeds=(0, 1, 2)) -> argparse.ArgumentParser:
    """``--scale``, ``--seeds``, ``flag`` (a subset of ``variants``, all by default) and ``--skip-existing``."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument(flag, nargs="+", default=list(variants), choices=list(variants))
    ap.add_argument("--scale", default="cpu", choices=list(scales))
    ap.add_argument("--seeds", nargs="+", type=int, default=list(seeds))
    ap.add_argument("--skip-existing", action="store_true", help="keep runs that are already stored")
    return ap


def store_runs(seeds: Iterable[int], plan: Callable[[int], Iterable[tuple[Path, Callable]]], *,
               skip_existing: bool, describe: Callable) -> list[Path]:
    """For each seed, each ``(path, make)`` of ``plan(seed)``: keep the file (with ``skip_existing``, or when
    this seed already wrote that path, e.g. a baseline shared by two experiments), else ``run = make()``,
    ``run.save(path)`` and print ``path.name: describe(run)``. Returns the paths written."""
    written = []
    for seed in seeds:
        done = set()
        for path, make in plan(seed):
            if path in done or (skip_existing and path.exists()):
                print(f"kept {path.name}", flush=True)
                continue
            run = make()
            run.save(path)
            done.add(path)
            written.append(path)
            print(f"{path.name}: {describe(run)}", flush=True)
    return written
