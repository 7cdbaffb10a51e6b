from __future__ import annotations

import io
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from preimage.data import (
    ShardImageDataset,
    SkipCounter,
    expand_braces,
    iter_images,
    iter_shard,
    materialize,
    resolve_shards,
)
from preimage.errors import PreimageError


def _jpeg(value: int, size: int = 20) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, dtype=np.uint8)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _noise_jpeg(seed: int, size: int = 64) -> bytes:
    buf = io.BytesIO()
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _write_shard(path: Path, samples: list[tuple[str, bytes, int | None]]) -> None:
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as tar:
        for key, img, label in samples:
            members = [(f"{key}.jpg", img)]
            if label is not None:
                members.append((f"{key}.cls", str(label).encode()))
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    for s in range(3):
        suffix = ".tar.gz" if s % 2 == 0 else ".tar"
        samples = [(f"s{s}_{i}", _jpeg(10 * (s * 4 + i)), s * 4 + i) for i in range(4)]
        _write_shard(tmp_path / f"train-{s:04d}{suffix}", samples)
    return tmp_path


def test_expand_braces() -> None:
    assert expand_braces("a-{0000..0002}.tar") == ["a-0000.tar", "a-0001.tar", "a-0002.tar"]
    assert expand_braces("x{8..10}") == ["x8", "x9", "x10"]
    assert expand_braces("plain.tar") == ["plain.tar"]


def test_resolve_and_labels(shards: Path) -> None:
    paths = resolve_shards(str(shards / "train-*"))
    assert len(paths) == 3
    items = list(iter_images([str(shards)], size=16))
    assert len(items) == 12
    assert sorted(it.label for it in items) == list(range(12))
    assert items[0].image.shape == (3, 16, 16)
    with pytest.raises(PreimageError, match="shard not found"):
        resolve_shards(str(shards / "train-{0000..0005}.tar.gz"))


def test_corrupt_member_is_skipped_and_counted(tmp_path: Path) -> None:
    shard = tmp_path / "bad-0000.tar"
    _write_shard(shard, [("a", _jpeg(50), 1), ("b", b"\xff\xd8garbage", 2), ("c", _jpeg(90), 3)])
    skipped = SkipCounter()
    with pytest.warns(UserWarning, match="bad-0000.tar:b"):
        items = list(iter_images([str(shard)], size=8, skipped=skipped))
    assert [it.label for it in items] == [1, 3]
    assert skipped.total == 1


def test_truncated_shard_keeps_what_was_read(tmp_path: Path) -> None:
    shard = tmp_path / "cut-0000.tar.gz"
    # incompressible members, so the cut falls well after the first ones
    _write_shard(shard, [(f"k{i}", _noise_jpeg(i), i) for i in range(6)])
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) * 2 // 3])
    skipped = SkipCounter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = list(iter_shard(shard, skipped))
    assert any("truncated" in str(w.message) and "cut-0000" in str(w.message) for w in caught)
    assert 0 < len(samples) < 6 and skipped.total == 1


def _read(shard: Path) -> tuple[list[dict[str, object]], SkipCounter, list[str]]:
    skipped = SkipCounter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        samples = list(iter_shard(shard, skipped))
    return samples, skipped, [str(w.message) for w in caught]


def test_shard_damaged_in_the_middle_says_how_far_it_got(tmp_path: Path) -> None:
    # zeros written over the compressed data mid-file: tarfile alone ends the stream at the first header
    # that makes no sense and says nothing; reading to the end finds it (and gzip's CRC disagrees)
    shard = tmp_path / "mid-0000.tar.gz"
    _write_shard(shard, [(f"k{i:02d}", _noise_jpeg(i), i) for i in range(40)])
    data = bytearray(shard.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    shard.write_bytes(bytes(data))
    samples, skipped, messages = _read(shard)
    assert 0 < len(samples) < 40 and skipped.total == 1
    assert any(f"stopped after {len(samples)} samples" in m for m in messages)
    with pytest.raises(PreimageError, match="`strict`"):
        materialize(str(shard), 16, strict=True)


def test_a_wrong_gzip_crc_is_damage_even_when_every_sample_reads(tmp_path: Path) -> None:
    shard = tmp_path / "crc-0000.tar.gz"
    _write_shard(shard, [(f"k{i}", _noise_jpeg(i), i) for i in range(4)])
    data = bytearray(shard.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 of the trailer
    shard.write_bytes(bytes(data))
    _, skipped, messages = _read(shard)
    assert skipped.total == 1 and any("crc" in m.lower() for m in messages)
    intact = tmp_path / "ok-0000.tar.gz"
    _write_shard(intact, [(f"k{i}", _noise_jpeg(i), i) for i in range(4)])
    assert len(_read(intact)[0]) == 4 and _read(intact)[1].total == 0


def test_loader_with_workers_sees_every_sample_once(shards: Path) -> None:
    ds = ShardImageDataset(str(shards / "train-*"), size=8, shuffle=True, seed=3, buffer=4)
    loader = DataLoader(ds, batch_size=3, num_workers=2)
    labels = torch.cat([y for _, y in loader]).tolist()
    assert sorted(labels) == list(range(12))


def test_seeded_shuffle_is_reproducible_and_changes_with_epoch(shards: Path) -> None:
    def order(seed: int, epoch: int) -> list[int]:
        ds = ShardImageDataset(str(shards / "train-*"), size=8, shuffle=True, seed=seed, buffer=5)
        ds.set_epoch(epoch)
        return [y for _, y in ds]

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1) or order(1, 0) != order(2, 0)
    assert sorted(order(1, 1)) == list(range(12))


def test_an_image_over_max_pixels_is_counted_as_too_large_not_corrupt(tmp_path: Path) -> None:
    from preimage.data.images import set_max_pixels

    shard = tmp_path / "big-0000.tar"
    _write_shard(shard, [("small", _jpeg(50, 20), 1), ("large", _jpeg(90, 64), 2), ("bad", b"\xff\xd8oops", 3)])
    skipped = SkipCounter()
    set_max_pixels(1000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            items = list(iter_images([str(shard)], size=8, skipped=skipped))
    finally:
        set_max_pixels(None)
    assert [it.label for it in items] == [1]
    assert skipped.counts == {"image over max_pixels": 1, "corrupt image": 1}
