"""Image sources and PyTorch datasets: a file, a folder tree, a glob, shards, or ``samples:NAME``.

Every item is an RGB float tensor ``(3, size, size)`` in ``[0, 1]`` plus an int
label (``-1`` when unlabelled). Shard datasets are :class:`IterableDataset` s
that split shards across DataLoader workers and DDP ranks and shuffle them with
a seed that changes with :meth:`ShardImageDataset.set_epoch`.
"""

from __future__ import annotations

import contextlib
import glob
import random
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from preimage.data.images import IMAGE_SUFFIXES, decode_image, fit_image, load_image
from preimage.data.samples import SAMPLE_NAMES, load_sample, sample_names
from preimage.data.shards import SkipCounter, is_shard, iter_shard, parse_label, resolve_shards
from preimage.errors import ImageTooLarge, PreimageError
from preimage.files import atomic_path


@dataclass(frozen=True)
class NamedImage:
    """An image with the name it came from (file stem, shard key or sample name)."""

    name: str
    image: torch.Tensor
    label: int = -1
    # (height, width) of the image as decoded, before it was brought to the requested size
    source_hw: tuple[int, int] = (0, 0)


def _image_files(spec: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise PreimageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under folder {spec}")
        return files
    if any(ch in spec for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        if not files:
            raise PreimageError(f"glob {spec!r} matched no files — check the pattern")
        return files
    if not path.exists():
        if spec in SAMPLE_NAMES:
            raise PreimageError(f"image file not found: {spec} — for the bundled sample photo write samples:{spec}")
        raise PreimageError(f"image file not found: {spec} — check the path")
    return [path]


def input_files(specs: Sequence[str]) -> list[Path]:
    """The files on disk that image ``specs`` read (not shards' members, not samples): what outputs must not
    replace."""
    files: list[Path] = []
    for spec in specs:
        if not spec.startswith("samples:") and not _is_shard_spec(spec):
            with contextlib.suppress(PreimageError):
                files += _image_files(spec)
    return files


def unique_names(names: Sequence[str]) -> tuple[list[str], dict[int, str]]:
    """One output name per input: a name met again gets the first free ``_1``, ``_2``, ... suffix, free of
    every other input's name too. Returns the names and ``{index: name}`` of those renamed."""
    taken = set(names)
    out: list[str] = []
    renamed: dict[int, str] = {}
    used: set[str] = set()
    for i, name in enumerate(names):
        unique = name
        k = 1
        while unique in used or (unique != name and unique in taken):
            unique, k = f"{name}_{k}", k + 1
        used.add(unique)
        out.append(unique)
        if unique != name:
            renamed[i] = unique
    return out, renamed


def _is_shard_spec(spec: str) -> bool:
    if "{" in spec or is_shard(spec):
        return True
    path = Path(spec)
    return path.is_dir() and any(is_shard(p.name) for p in path.iterdir())


def iter_images(
    specs: Sequence[str],
    size: int | None = None,
    fit: str = "center",
    limit: int | None = None,
    skipped: SkipCounter | None = None,
    strict: bool = True,
) -> Iterator[NamedImage]:
    """Yield every image named by ``specs``, in order.

    ``strict=True`` (single files named on a command line) raises on a bad file;
    ``strict=False`` (data sets) warns, counts it in ``skipped`` and goes on.
    """
    count = 0
    for spec in specs:
        for item in _iter_one(spec, size, fit, skipped, strict):
            yield item
            count += 1
            if limit is not None and count >= limit:
                return


def read_images(
    specs: Sequence[str],
    size: int | None = None,
    fit: str = "center",
    limit: int | None = None,
    strict: bool = False,
) -> tuple[list[NamedImage], SkipCounter]:
    """Every readable image named by ``specs`` (at most ``limit``), and what was skipped.

    A corrupt image in a folder or shard, or a truncated shard, is skipped and counted; the run prints one
    warning line for all of them (not one per file). With ``strict`` the first one is an error instead. A
    single file named on its own that cannot be read is always an error, and so is finding no image at all.
    """
    skipped = SkipCounter()
    items: list[NamedImage] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for item in iter_images(specs, size, fit, limit, skipped, strict=True):
            if strict and skipped.total:
                break
            items.append(item)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    others = [w for w in caught if not issubclass(w.category, UserWarning)]
    for w in others:  # warnings of other kinds are not ours to swallow
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if skipped.total and strict:
        first = messages[0] if messages else next(iter(skipped.counts))
        raise PreimageError(f"{first} (`strict`: a damaged input is an error; drop `strict` to skip it)")
    example = f"; first: {messages[0]}" if messages else ""
    if not items:
        what = f"; {skipped.total} unreadable item(s) were skipped{example}" if skipped.total else ""
        raise PreimageError(f"no readable images in {' '.join(specs)}{what}")
    if skipped.total:
        reasons = ", ".join(f"{k}: {v}" for k, v in skipped.counts.items())
        print(f"preimage: warning: skipped {skipped.total} unreadable item(s) ({reasons}){example}", file=sys.stderr)
    return items, skipped


def _iter_one(spec: str, size: int | None, fit: str, skipped: SkipCounter | None, strict: bool) -> Iterator[NamedImage]:
    if spec.startswith("samples:"):
        for name in sample_names(spec.split(":", 1)[1]):
            photo = load_sample(name)
            yield NamedImage(name, fit_image(photo, size, fit), source_hw=_hw(photo))
        return
    if _is_shard_spec(spec):
        for shard in resolve_shards(spec):
            for sample in iter_shard(shard, skipped):
                img = _decode_sample(sample, skipped)
                if img is not None:
                    yield NamedImage(sample["__key__"], fit_image(img, size, fit), parse_label(sample), _hw(img))
        return
    files = _image_files(spec)
    for path in files:
        try:
            img = load_image(path)
        except PreimageError as err:
            if strict and len(files) == 1:
                raise
            warnings.warn(f"skipping {path}: {err}", stacklevel=2)
            if skipped is not None:
                skipped.add(skip_reason(err))
            continue
        yield NamedImage(path.stem, fit_image(img, size, fit), source_hw=_hw(img))


def skip_reason(err: PreimageError) -> str:
    """How a skipped image is counted: too large (readable, over max_pixels) or corrupt."""
    return "image over max_pixels" if isinstance(err, ImageTooLarge) else "corrupt image"


def _hw(img: torch.Tensor) -> tuple[int, int]:
    return int(img.shape[-2]), int(img.shape[-1])


def upsampled_note(items: Sequence[NamedImage], size: int | None) -> str | None:
    """One line saying how many images were smaller than ``size`` and were upsampled (``None`` if none).

    Small photos are resized, not refused; the line says so once per run, since upsampling adds no detail
    for the representation to see.
    """
    if size is None:
        return None
    small = [it for it in items if 0 < min(it.source_hw) < size]
    if not small:
        return None
    first = small[0]
    return (
        f"note: {len(small)} of {len(items)} images are smaller than {size} px and were upsampled "
        f"(e.g. {first.name}, {first.source_hw[1]}x{first.source_hw[0]}); upsampling adds no detail"
    )


def _decode_sample(sample: dict[str, object], skipped: SkipCounter | None) -> torch.Tensor | None:
    key = f"{sample['__shard__']}:{sample['__key__']}"
    data = next((sample[e] for e in ("jpg", "jpeg", "png", "webp", "bmp") if e in sample), None)
    if not isinstance(data, bytes):
        warnings.warn(f"skipping {key}: no image member", stacklevel=3)
        if skipped is not None:
            skipped.add("no image member")
        return None
    try:
        return decode_image(data, key)
    except PreimageError as err:
        warnings.warn(f"skipping {err}", stacklevel=3)
        if skipped is not None:
            skipped.add(skip_reason(err))
        return None


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ShardImageDataset(IterableDataset[tuple[torch.Tensor, int]]):
    """Stream ``(image, label)`` pairs from WebDataset shards.

    Args:
        shards: a brace pattern, glob, shard or folder of shards.
        size: output side length (``None`` keeps the decoded size).
        fit: ``resize``, ``center`` or ``random`` (seeded random crop).
        seed: seeds shard order, the shuffle buffer, crops and flips.
        shuffle: shuffle shard order and samples through a buffer of ``buffer`` items.
        flip: random horizontal flips.

    Shards are split over DDP ranks and DataLoader workers (``shard i`` goes to
    unit ``i % units``), so every sample is seen once per epoch.
    """

    def __init__(
        self,
        shards: str,
        size: int | None = 64,
        fit: str = "center",
        seed: int = 0,
        shuffle: bool = False,
        flip: bool = False,
        buffer: int = 2000,
    ) -> None:
        self.shards = resolve_shards(shards)
        self.size, self.fit, self.seed = size, fit, seed
        self.shuffle, self.flip, self.buffer = shuffle, flip, buffer
        self.epoch = 0
        self.skipped = SkipCounter()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        rank, world = _rank_world()
        info = get_worker_info()
        wid, nworkers = (info.id, info.num_workers) if info is not None else (0, 1)
        unit, units = rank * nworkers + wid, world * nworkers
        order = list(self.shards)
        if self.shuffle:
            random.Random(self.seed * 100003 + self.epoch).shuffle(order)
        # Each unit (rank x worker) reads its own shards; with fewer shards than units, every unit reads
        # all shards and keeps every units-th sample.
        by_sample = len(order) < units
        shards = order if by_sample else order[unit::units]
        rng = random.Random(self.seed * 7919 + self.epoch * 131 + rank * 17 + wid)
        gen = torch.Generator().manual_seed(rng.getrandbits(62))
        buf: list[tuple[torch.Tensor, int]] = []
        index = -1
        for shard in shards:
            for sample in iter_shard(shard, self.skipped):
                index += 1
                if by_sample and index % units != unit:
                    continue
                img = _decode_sample(sample, self.skipped)
                if img is None:
                    continue
                img = fit_image(img, self.size, self.fit, gen)
                if self.flip and rng.random() < 0.5:
                    img = img.flip(-1)
                item = (img, parse_label(sample))
                if not self.shuffle:
                    yield item
                    continue
                buf.append(item)
                if len(buf) >= self.buffer:
                    j = rng.randrange(len(buf))
                    buf[j], buf[-1] = buf[-1], buf[j]
                    yield buf.pop()
        rng.shuffle(buf)
        yield from buf


class ImageListDataset(Dataset[tuple[torch.Tensor, int]]):
    """Map-style dataset over image files (a folder tree or a glob); bad files raise on access."""

    def __init__(self, spec: str, size: int | None = 64, fit: str = "center") -> None:
        self.files = _image_files(spec)
        self.size, self.fit = size, fit

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return fit_image(load_image(self.files[i]), self.size, self.fit), -1


def materialize(
    spec: str,
    size: int,
    fit: str = "center",
    limit: int | None = None,
    cache_dir: str | Path | None = None,
    strict: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a whole (small) data set once into uint8 ``(N, 3, size, size)`` plus int64 labels.

    Tiny-ImageNet's 100k 64x64 images are 1.2 GB this way, which makes an
    epoch on a 2-core CPU bound by the network, not by JPEG decoding. With
    ``cache_dir`` the arrays are kept as ``.npy`` files keyed by the source,
    size and fit, and reused.
    """
    cache_file: Path | None = None
    if cache_dir is not None:
        tag = "".join(c if c.isalnum() else "_" for c in f"{Path(spec).resolve()}_{size}_{fit}_{limit}")[-150:]
        cache_file = Path(cache_dir) / f"{tag}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as z:
                # the unreadable items of the run that built the cache: --strict refuses them on every read
                lost = int(z["skipped"]) if "skipped" in z.files else 0
                if lost and strict:
                    raise PreimageError(
                        f"{lost} unreadable items in {spec} (counted when {cache_file} was built) — `strict` makes "
                        "that an error; drop it to skip them"
                    )
                return torch.from_numpy(z["images"]), torch.from_numpy(z["labels"])
    images, labels = [], []
    skipped = SkipCounter()
    for item in iter_images([spec], size=size, fit=fit, limit=limit, skipped=skipped, strict=False):
        images.append((item.image * 255.0 + 0.5).clamp(0, 255).to(torch.uint8))
        labels.append(item.label)
    if not images:
        raise PreimageError(f"no readable images in {spec}")
    if skipped.total and strict:
        raise PreimageError(
            f"{skipped.total} unreadable items in {spec} ({skipped.counts}) — `strict` makes that an error; "
            "drop it to skip them"
        )
    if skipped.total:
        warnings.warn(f"skipped {skipped.total} unreadable items in {spec}: {skipped.counts}", stacklevel=2)
    arr, lab = torch.stack(images), torch.tensor(labels, dtype=torch.int64)
    if cache_file is not None:
        with atomic_path(cache_file) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, images=arr.numpy(), labels=lab.numpy(), skipped=np.int64(skipped.total))
    return arr, lab
