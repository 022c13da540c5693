"""Where and how fast: device choice, seeding, autocast, and CPU speed settings."""
from __future__ import annotations

import contextlib
import ctypes
import math
import os
import platform
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


# glibc mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -2, -3, -4
_CPU_TUNING: dict = {}


def _libc():
    """glibc, or None (macOS, Windows, musl): the allocator settings are glibc's."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def usable_cpus() -> int:
    """CPUs this process may really use: its affinity mask, capped by a cgroup CPU quota (containers)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    for files in (("/sys/fs/cgroup/cpu.max",),                  # cgroup v2: "max 100000" or "200000 100000"
                  ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us")):   # v1
        try:
            words = []
            for name in files:
                with open(name) as f:
                    words += f.read().split()
            quota, period = words[0], words[1]
            if quota not in ("max", "-1"):
                n = min(n, max(1, math.ceil(int(quota) / int(period))))
            break
        except (OSError, ValueError, IndexError):
            continue
    return max(1, n)


def tune_cpu() -> dict:
    """Make CPU training fast, once per process; opt out with ``MINILIB_CPU_TUNING=0``.

    - **Allocator.** A training step frees and re-allocates the same big tensors every
      step (the logits alone are 32 x 100 x 8000 floats = 102 MB at paper scale). glibc
      serves blocks above its mmap threshold (128 KB, rising to at most 32 MB) with fresh
      ``mmap`` calls and unmaps them at ``free``, so every step pays the kernel to map
      and zero those pages again: about half of a paper-scale step on the 2-core CPU we
      measured (``make bench``; the book's "How fast is attention?" page). We raise the
      mmap threshold and the trim threshold to 1 GB, so freed memory stays in the process
      and is reused; blocks over 1 GB still go back to the system at once. The price: the
      process keeps its peak memory until it exits, or until ``release_cpu_memory()``.
    - **Threads.** Left at PyTorch's choice (one per physical core) unless that exceeds
      the CPUs this process may use (affinity mask, container CPU quota), where extra
      threads only fight each other, or is 1 where more CPUs are there.
      ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, when set, are obeyed and never overridden.

    Only the first call acts (so a notebook's own ``torch.set_num_threads`` afterwards
    stays in force). Returns what was changed; ``cpu_tuning()`` tells it later.
    """
    global _CPU_TUNED
    if _CPU_TUNED:
        return {}
    _CPU_TUNED = True
    if os.environ.get("MINILIB_CPU_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        _CPU_TUNING["off"] = "MINILIB_CPU_TUNING=0"
        return {}
    done = {}
    libc = _libc()
    if libc is None:
        done["malloc"] = "not glibc; unchanged"
    else:
        # mmap threshold first; an older glibc that refuses a threshold this high gets M_MMAP_MAX=0 instead
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1 or libc.mallopt(_M_MMAP_MAX, 0) == 1
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30) == 1 and libc.mallopt(_M_TOP_PAD, 64 << 20) == 1
        done["malloc"] = "kept freed memory in-process" if ok else "mallopt refused"
    if not (os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS")):
        cpus, now = usable_cpus(), torch.get_num_threads()
        if now > cpus or now < min(2, cpus):       # oversubscribed, or stuck at one thread
            torch.set_num_threads(cpus)
            done["threads"] = cpus
    _CPU_TUNING.update(done)
    return done


def cpu_tuning() -> dict:
    """What ``tune_cpu()`` changed in this process (empty before it ran or with the opt-out)."""
    return dict(_CPU_TUNING)


def release_cpu_memory() -> bool:
    """Hand the memory the allocator kept (see ``tune_cpu``) back to the system, e.g. after training."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(0))


def describe(device: torch.device) -> dict:
    """Provenance for results: device name, torch version, threads, load, and the CPU tuning in force."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {"device": str(device), "device_name": name, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "load_avg_1min": round(load, 2),
            "python": sys.version.split()[0], "cpu_tuning": cpu_tuning()}
