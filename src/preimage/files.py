"""Outputs that are never half-written and never clobbered by surprise.

Every file the package writes goes through :func:`atomic_path`: the bytes land in a temporary file in the
same folder, which is renamed over the final name only when complete. A crash, a ``kill -9`` or a second
run writing the same name leaves either the old file or the new one, never a truncated mix. Files get the
permissions any file the user makes gets (``0666 & ~umask``), not the ``0600`` of :mod:`tempfile`.

:func:`prepare_outputs` and :func:`check_folder` turn the usual mistakes (an existing file without
``--overwrite``, an output folder that is a file, under ``/proc`` or not writable) into one-line errors
before any work is done. :func:`dumps` writes strict JSON (``null`` for NaN and infinities).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from preimage.errors import PreimageError

_FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def run_folder(folder: str | Path) -> Iterator[Path]:
    """The output folder of a run: if the run fails and leaves the folder it created empty, the folder goes
    too (a failed start must not leave an empty folder that looks like a run)."""
    folder = Path(folder)
    existed = folder.exists()
    try:
        yield folder
    except BaseException:
        if not existed and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def remove_stale_parts(folder: Path) -> int:
    """Delete the temporary files that writers killed before their rename left in ``folder`` (``.NAME.PID.*.part``
    whose process is gone); returns how many."""
    removed = 0
    for part in folder.glob(".*.part") if folder.is_dir() else ():
        pid = part.name.removesuffix(".part").split(".")[-2]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            part.unlink()
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def check_folder(folder: str | Path, what: str = "-o", shown: str | Path | None = None) -> Path:
    """Make sure ``folder`` is, or can become, a writable folder; a one-line error otherwise.

    ``shown`` is the path the user typed, when ``folder`` is the parent of an output file.
    """
    folder = Path(folder)
    resolved = folder.resolve()
    named = f"{what} {shown if shown is not None else folder}"
    if any(str(resolved) == r or str(resolved).startswith(r + "/") for r in _FORBIDDEN_ROOTS):
        raise PreimageError(f"{named} is under /{resolved.parts[1]}, a kernel file system — write to a normal folder")
    # the nearest part of the path that exists decides: it must be a folder we may write into
    probe = resolved
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise PreimageError(f"{named}: {probe} is a file, not a folder — pick another output path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PreimageError(f"{named}: {probe} is not writable — pick a folder you can write to")
    remove_stale_parts(resolved)
    return folder


def prepare_outputs(
    paths: Iterable[str | Path], overwrite: bool, what: str = "-o", inputs: Iterable[str | Path] = ()
) -> list[Path]:
    """Check every output path before work starts: folders writable, no existing file unless ``overwrite``,
    never one of the ``inputs`` (not even with ``overwrite``: a run must not destroy what it reads).

    The error names the first existing file, so the user knows what would have been replaced.
    """
    out = [Path(p) for p in paths]
    read = {Path(p).resolve() for p in inputs}
    checked: set[Path] = set()
    for path in out:
        if path.resolve() in read:
            raise PreimageError(f"{path} is one of the inputs; writing there would replace it — pick another {what}")
        if path.parent not in checked:
            check_folder(path.parent, what, shown=path)
            checked.add(path.parent)
        if path.is_dir():
            raise PreimageError(f"output {path} is a folder — remove it or pick another name")
        if path.exists() and not overwrite:
            raise PreimageError(f"{path} exists; pass `overwrite` to replace it, or pick another `out`")
    return out


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; on success it replaces ``final`` in one rename.

    On an exception the temporary file is removed and ``final`` is untouched.

    Example:
        >>> with atomic_path(folder / "a.png") as tmp:  # doctest: +SKIP
        ...     image.save(tmp, format="PNG")
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    # the writer's PID in the name: a later run can tell a killed writer's leftover from a live one's file
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, Exception) and disk_full(exc, final.parent):
            free = shutil.disk_usage(final.parent).free
            raise PreimageError(
                f"no space left on the device of {final.parent} to write {final.name} ({free / 2**20:.1f} MB free)"
                " — free some space or write elsewhere"
            ) from None
        raise


# how writers that are not Python's own file objects report a full disk (safetensors' Rust IoError, torch's
# stream writer); only believed when the device is nearly full too
_DISK_FULL_WORDS = ("no space left", "storagefull", "os error 28", "file write failed")


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether ``exc``, raised while writing into ``folder``, means its device is full."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    if not any(word in text for word in _DISK_FULL_WORDS):
        return False
    usage = shutil.disk_usage(folder)
    return usage.free < max(64 * 2**20, usage.total // 100)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write UTF-8 ``text`` to ``path``."""
    return write_bytes(path, text.encode("utf-8"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that writes ``null`` for NaN and infinities, so the result is valid JSON."""
    return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def write_json(path: str | Path, obj: Any, **kwargs: Any) -> Path:
    """Atomically write ``obj`` as strict JSON (indented by 2 unless told)."""
    kwargs.setdefault("indent", 2)
    return write_text(path, dumps(obj, **kwargs))


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, hex: which weights a model was built from, and which a decoder was trained on."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
