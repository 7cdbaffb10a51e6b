from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import skimage.color
import skimage.data
import skimage.transform
import torch
from PIL import Image

from preimage.representations import vlfeat

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

requires_vlfeat = pytest.mark.skipif(
    not vlfeat.available(), reason="VLFeat libvl.so absent (apt-get install libvlfeat1) — parity not checked"
)
requires_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "tiny-imagenet-200").is_dir(), reason=f"{SHARED_DATA} absent — data-set checks skipped"
)


def natural_gray(h: int, w: int) -> np.ndarray:
    """The astronaut photo in gray, resized to h x w, float32 in [0, 1]."""
    gray = skimage.color.rgb2gray(skimage.data.astronaut())
    return skimage.transform.resize(gray, (h, w), anti_aliasing=True).astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def make_tiny_dataset(root: Path, n_per_class: int = 64, classes: int = 4) -> None:
    """Four easy classes: a bright square in one of four quadrants, on noise."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_per_class), ("val", 16)):
        with tarfile.open(root / f"{split}-0000.tar.gz", "w:gz") as tar:
            for i in range(n * classes):
                label = i % classes
                img = rng.integers(0, 100, (64, 64, 3), dtype=np.uint8)
                r, c = divmod(label, 2)
                img[r * 32 + 4 : r * 32 + 28, c * 32 + 4 : c * 32 + 28] = 230
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG")
                for name, data in (
                    (f"{split}_{i}.jpg", buf.getvalue()),
                    (f"{split}_{i}.cls", str(label).encode()),
                ):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="session")
def sample_images() -> torch.Tensor:
    """scikit-image's six colour photos at 64x64, ``(6, 3, 64, 64)`` in [0, 1]."""
    from preimage.data import iter_images

    return torch.stack([it.image for it in iter_images(["samples:all"], size=64, fit="center")])


def make_constant_decoder(path: Path, rep: str, shape: tuple[int, ...], value: float) -> None:
    """A decoder whose output is ``value`` everywhere (all weights zero, head bias ``value``), saved to ``path``."""
    import json

    from preimage.inverters.decoders import Decoder, DecoderArch
    from preimage.training.common import export_safetensors

    dec = Decoder(DecoderArch(rep, shape, 64, 8))
    with torch.no_grad():
        for p in dec.parameters():
            p.zero_()
        dec.net.head.bias.fill_(value)
    export_safetensors(dec.state_dict(), path, fp16=False, metadata={"config": json.dumps(dec.config())})
