"""Native bf16 detection, --amp auto and the default thread count."""

from __future__ import annotations

import os

import pytest
import torch

from preimage import runtime
from preimage.errors import PreimageError


def test_native_bf16_follows_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert not runtime.native_bf16("cpu")
    assert runtime.resolve_amp("auto", "cpu") == "none"
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    assert runtime.native_bf16("cpu")
    assert runtime.resolve_amp("auto", "cpu") == "bf16"
    monkeypatch.setattr(runtime, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert runtime.resolve_amp("auto", "cpu") == "bf16"


def test_explicit_amp_is_kept_and_unknown_is_refused() -> None:
    assert runtime.resolve_amp("none") == "none"
    assert runtime.resolve_amp("bf16") == "bf16"
    with pytest.raises(PreimageError, match="`amp=fp8`"):
        runtime.resolve_amp("fp8")


def test_cpu_flags_match_proc_cpuinfo() -> None:
    # an independent read: the first "flags" line of /proc/cpuinfo, where the machine has one
    try:
        with open("/proc/cpuinfo") as fh:
            line = next((x for x in fh if x.startswith("flags")), None)
    except OSError:
        line = None
    expected = frozenset(line.split(":", 1)[1].split()) if line else frozenset()
    assert runtime.cpu_flags() == expected


def test_default_threads_leaves_out_busy_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "available_cores", lambda: 8)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    for busy, expected in ((0, 8), (1, 7), (7, 1), (20, 1)):
        monkeypatch.setattr(runtime, "busy_cores", lambda busy=busy: busy)
        assert runtime.default_threads() == expected
    monkeypatch.setattr(runtime, "available_cores", lambda: 2)  # affinity limits us below the idle cores
    monkeypatch.setattr(runtime, "busy_cores", lambda: 1)
    assert runtime.default_threads() == 2


def test_busy_cores_sees_a_spinning_process() -> None:
    import subprocess
    import sys

    if os.cpu_count() == 1:
        pytest.skip("one core: the spinner and this test share it")
    quiet = runtime.busy_cores()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.3)
        assert runtime.busy_cores(samples=5) >= min(quiet + 1, 1)
    finally:
        spinner.kill()
        spinner.wait()


def test_set_threads_applies_the_default_or_the_override() -> None:
    before = torch.get_num_threads()
    try:
        assert runtime.set_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert 1 <= runtime.set_threads(None) <= len(os.sched_getaffinity(0))
        with pytest.raises(PreimageError):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)
