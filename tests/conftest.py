from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.color
import skimage.data
import skimage.transform

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
