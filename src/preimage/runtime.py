"""What the machine at hand can do fast: native bf16, and how many cores this process may use.

``--amp auto`` picks bf16 autocast only where the hardware computes bf16 natively (a CUDA device, or a CPU
with AVX512-BF16 / AMX-BF16); elsewhere bf16 is emulated and ~20x slower than float32, so ``auto`` is
``none`` there. The thread count follows the cores this process is allowed to run on
(:func:`os.sched_getaffinity`), not the cores the machine has, less those other processes keep busy.
"""

from __future__ import annotations

import os
import time
from functools import cache
from pathlib import Path

import torch

from preimage.errors import PreimageError

AMP_CHOICES = ("auto", "bf16", "none")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of the first processor in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """True where bf16 arithmetic runs in hardware on ``device`` (CUDA, or a CPU with a bf16 flag)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def resolve_amp(amp: str, device: str | torch.device = "cpu") -> str:
    """``auto`` -> ``bf16`` where :func:`native_bf16`, else ``none``; ``bf16`` and ``none`` are kept."""
    if amp not in AMP_CHOICES:
        raise PreimageError(f"`amp={amp}`: use one of {', '.join(AMP_CHOICES)}")
    if amp == "auto":
        return "bf16" if native_bf16(device) else "none"
    return amp


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cores(samples: int = 3, interval_s: float = 0.005) -> int:
    """Cores other processes keep busy right now: runnable tasks in ``/proc/loadavg`` less this one.

    The count is instantaneous, so it is sampled a few times and the smallest kept (a task that just
    woke up for a moment is not a busy core). 0 where ``/proc/loadavg`` is absent.
    """
    counts = []
    for i in range(samples):
        try:
            running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0
        counts.append(max(0, running - 1))
        if i + 1 < samples:
            time.sleep(interval_s)
    return min(counts)


def default_threads() -> int:
    """Torch intra-op threads for this process: one per core it may use that no other process keeps busy.

    Torch's OpenMP threads wait for each other at the end of every operation: one thread sharing a core with
    a busy process makes all of them wait for it, and a HOG batch on 2 cores with one busy ran 25x slower
    than on 1 thread. So busy cores are left out (at least 1 thread); ``--threads`` overrides.
    """
    cores = available_cores()
    return max(1, min(cores, (os.cpu_count() or cores) - busy_cores()))


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (``None``: :func:`default_threads`); returns the count used."""
    n = default_threads() if threads is None else threads
    if n < 1:
        raise PreimageError(f"`threads={n}` must be at least 1")
    torch.set_num_threads(n)
    return n
