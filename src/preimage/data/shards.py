"""WebDataset-style tar shards: ``<key>.jpg`` + ``<key>.cls`` members, plain or gzip'd.

Read with the standard library's :mod:`tarfile` in streaming mode, so a shard is
never unpacked to disk. A corrupt member or a damaged shard is *skipped* with
a warning that names it, and counted in :class:`SkipCounter` (``--strict`` makes
it an error); it never kills an epoch.
"""

from __future__ import annotations

import glob
import gzip
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

    Members with the same key are grouped. A shard is read to its last byte, so damage anywhere in it is found:
    a truncated stream, a gzip CRC that does not match, or data after the point where the tar headers stop
    making sense (tarfile alone ends such a stream early without a word). What was read before the damage is
    still yielded; the damage is a warning naming how many samples came before it, and counts as skipped.
    """
    current: dict[str, Any] | None = None
    done = 0
    try:
        with _open_stream(path) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
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
                    done += 1
                    current = None
                if current is None:
                    current = {"__key__": key, "__shard__": str(path)}
                current[ext] = data
            _read_to_end(stream)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        warnings.warn(
            f"shard {path} is truncated or corrupt ({exc.__class__.__name__}: {exc}): stopped after {done} samples, "
            "the rest of it is lost",
            stacklevel=2,
        )
        if skipped is not None:
            skipped.add(f"damaged shard {path.name} (stopped after {done} samples)")
        current = None  # the last sample may be incomplete
    if current is not None:
        yield current


def _open_stream(path: Path) -> Any:
    """The shard's bytes as tar reads them: gzip is unpacked by :mod:`gzip`, which checks the CRC at the end."""
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _read_to_end(stream: Any) -> None:
    """Read a gzip'd shard to its end, past the tar's last header: :mod:`gzip` checks the CRC there, and
    anything but zero padding after the last header means tar stopped at damage."""
    if not isinstance(stream, gzip.GzipFile):
        return  # a plain tar has no checksum of its data; bz2/xz shards are unpacked by tarfile itself
    while chunk := stream.read(1 << 20):
        if chunk.strip(b"\0"):
            raise tarfile.ReadError("the tar headers stop making sense before the end of the data")


def parse_label(sample: dict[str, Any]) -> int:
    """The ``.cls`` member as an int, or -1 for unlabelled sets."""
    raw = sample.get("cls")
    if raw is None:
        return -1
    try:
        return int(raw.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        return -1
