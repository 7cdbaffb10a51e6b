"""WebDataset-style tar shards: ``<key>.jpg`` + ``<key>.cls`` members, plain or gzip'd.

Read with the standard library's :mod:`tarfile` in streaming mode, so a shard is
never unpacked to disk. A corrupt member or a truncated shard is *skipped* with
a warning that names it, and counted in :class:`SkipCounter`; it never kills an
epoch.
"""

from __future__ import annotations

import glob
import re
import tarfile
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preimage.errors import PreimageError

_BRACE = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_braces(pattern: str) -> list[str]:
    """Expand WebDataset brace ranges: ``train-{0000..0002}.tar`` -> three names (zero-padding kept)."""
    match = _BRACE.search(pattern)
    if not match:
        return [pattern]
    lo, hi = match.group(1), match.group(2)
    width = len(lo) if lo.startswith("0") or len(lo) == len(hi) else 0
    out: list[str] = []
    for i in range(int(lo), int(hi) + 1):
        out.extend(expand_braces(pattern[: match.start()] + str(i).zfill(width) + pattern[match.end() :]))
    return out


def is_shard(path: str) -> bool:
    return path.endswith((".tar", ".tar.gz", ".tgz"))


def resolve_shards(spec: str | Path) -> list[Path]:
    """Shard paths for a brace pattern, a glob, a single shard or a folder of shards.

    A folder with ``train-*`` and ``val-*`` shards is ambiguous; name the split
    (``DIR/val-*.tar.gz``) — the folder alone means *all* shards in it.
    """
    spec = str(spec)
    if Path(spec).is_dir():
        found = sorted(p for p in Path(spec).iterdir() if is_shard(p.name))
        if not found:
            raise PreimageError(f"no .tar/.tar.gz shards in folder {spec} — point at a shard pattern instead")
        return found
    names: list[str] = []
    for part in expand_braces(spec):
        hits = sorted(glob.glob(part)) if any(ch in part for ch in "*?[") else [part]
        names.extend(hits)
    missing = [n for n in names if not Path(n).is_file()]
    if missing or not names:
        raise PreimageError(f"shard not found: {missing[0] if missing else spec} — check the path or brace range")
    return [Path(n) for n in names]


def split_key(name: str) -> tuple[str, str]:
    """WebDataset convention: the key is everything up to the first dot of the basename."""
    slash = name.rfind("/")
    dot = name.find(".", slash + 1)
    if dot < 0:
        return name, ""
    return name[:dot], name[dot + 1 :].lower()


@dataclass
class SkipCounter:
    """Counts what was skipped, by reason, so a run can report it at the end."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def iter_shard(path: Path, skipped: SkipCounter | None = None) -> Iterator[dict[str, Any]]:
    """Yield samples ``{"__key__", "__shard__", ext: bytes, ...}`` from one shard, in order.

    Members with the same key are grouped; a truncated or corrupt shard ends with
    a warning (what was read before the damage is still yielded).
    """
    current: dict[str, Any] | None = None
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                key, ext = split_key(member.name)
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                data = fh.read()
                if current is not None and current["__key__"] != key:
                    yield current
                    current = None
                if current is None:
                    current = {"__key__": key, "__shard__": str(path)}
                current[ext] = data
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        warnings.warn(
            f"shard {path} is truncated or corrupt ({exc.__class__.__name__}: {exc}); skipping the rest of it",
            stacklevel=2,
        )
        if skipped is not None:
            skipped.add(f"truncated shard {path.name}")
        current = None  # the last sample may be incomplete
    if current is not None:
        yield current


def parse_label(sample: dict[str, Any]) -> int:
    """The ``.cls`` member as an int, or -1 for unlabelled sets."""
    raw = sample.get("cls")
    if raw is None:
        return -1
    try:
        return int(raw.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        return -1
