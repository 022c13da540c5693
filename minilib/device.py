"""Where and how fast: device choice, seeding, autocast, and CPU speed settings."""
from __future__ import annotations

import contextlib
import ctypes
import os
import random
import sys

import numpy as np
import torch

_CPU_TUNED = False


def pick_device(prefer: str | None = None) -> torch.device:
    """``cuda`` > ``mps`` > ``cpu``, or the device named by ``prefer`` / ``$MINILIB_DEVICE``."""
    prefer = prefer or os.environ.get("MINILIB_DEVICE")
    if prefer and prefer != "auto":
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); returns a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (fast and safe for training); a no-op elsewhere."""
    if enabled and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def tune_cpu() -> dict:
    """Make CPU training fast, once per process; opt out with ``MINILIB_CPU_TUNING=0``.

    - glibc's malloc hands large freed blocks back to the OS after every step and
      asks for them again on the next; for a training loop that costs about half of
      each step. Keeping freed memory in the process (no mmap for big blocks, a high
      trim threshold) removes that. Memory use then stays at its peak, which is what
      a training loop reaches every step anyway.
    - threads: one per physical core (torch's default is the same on most machines;
      we only make sure it is not 1).
    Returns what was changed.
    """
    global _CPU_TUNED
    done = {}
    if _CPU_TUNED or os.environ.get("MINILIB_CPU_TUNING", "1") == "0":
        return done
    _CPU_TUNED = True
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
            ok = (libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
                  and libc.mallopt(M_TOP_PAD, 256 << 20) == 1)
            done["malloc"] = "kept freed memory in-process" if ok else "mallopt refused"
        except OSError:
            done["malloc"] = "not glibc; unchanged"
    cores = os.cpu_count() or 1
    if torch.get_num_threads() < min(2, cores):
        torch.set_num_threads(cores)
        done["threads"] = cores
    return done


def describe(device: torch.device) -> dict:
    """Provenance for results: device name, torch version, thread count."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"device": str(device), "device_name": name, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "load_avg_1min": round(load, 2),
            "python": sys.version.split()[0]}
