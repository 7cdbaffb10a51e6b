"""Atomic outputs, overwrite protection and strict JSON."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from preimage.errors import PreimageError
from preimage.files import atomic_path, check_folder, dumps, prepare_outputs, write_json, write_text


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "a.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert final.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporary left behind
    write_text(final, "new")
    assert final.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_files_follow_the_umask_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "f.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_prepare_outputs_names_the_first_existing_file(tmp_path: Path) -> None:
    (tmp_path / "b.png").write_bytes(b"x")
    paths = [tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"]
    with pytest.raises(PreimageError, match=r"b\.png exists; pass `overwrite`"):
        prepare_outputs(paths, overwrite=False)
    assert prepare_outputs(paths, overwrite=True) == paths


@pytest.mark.parametrize("bad", ["/proc/x", "/proc/self/y/z"])
def test_kernel_file_systems_are_refused(bad: str) -> None:
    with pytest.raises(PreimageError, match="kernel file system"):
        check_folder(bad)


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(PreimageError, match="is a file, not a folder"):
        check_folder(tmp_path / "file" / "sub")
    with pytest.raises(PreimageError, match="is a file, not a folder"):
        check_folder(tmp_path / "file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PreimageError, match="not writable"):
            check_folder(ro / "out")
    finally:
        ro.chmod(0o700)


def test_dumps_writes_null_for_nan_and_infinity(tmp_path: Path) -> None:
    obj = {"a": math.nan, "b": [1.5, math.inf, -math.inf], "c": {"d": 2}}
    text = dumps(obj)
    assert json.loads(text) == {"a": None, "b": [1.5, None, None], "c": {"d": 2}}
    path = write_json(tmp_path / "s.json", obj)
    # Python's json accepts bare NaN; a strict parser does not: reject the constants explicitly
    json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root and mount permission; skipped with the reason elsewhere)."""
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MB tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(
    full_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from preimage.cli.main import main

    out = full_disk / "f.safetensors"
    code = main(["features", "samples:chelsea", "--rep", "alexnet64:conv1", "--size", "512", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "no space left" in err and "Traceback" not in err
    assert list(full_disk.iterdir()) == []  # neither the output nor a hidden .part file


def test_leftovers_of_killed_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".a.png.{int(dead.stdout)}.x1y2.part"  # its writer has exited
    live = tmp_path / f".b.png.{os.getpid()}.z3.part"  # this process may still be writing it
    stale.write_bytes(b"half")
    live.write_bytes(b"half")
    prepare_outputs([tmp_path / "c.png"], overwrite=False)
    assert not stale.exists() and live.exists()


def test_a_run_that_fails_at_once_leaves_no_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preimage.cli.main import main

    run = tmp_path / "run"
    assert main(["train-decoder", "--rep", "alexnet64:conv9", "--data", str(tmp_path), "-o", str(run)]) == 2
    assert "conv5" in capsys.readouterr().err and not run.exists()
