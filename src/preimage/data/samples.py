"""scikit-image's bundled sample photos: the embedded default that needs no data download."""

from __future__ import annotations

import numpy as np
import torch

from preimage.errors import unknown_name

# Colour or gray natural photos shipped inside scikit-image (no network needed).
SAMPLE_NAMES = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "horse",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
# The colour photos, which is what "samples:all" means: the demo's default set.
COLOR_SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina")


def load_sample(name: str) -> torch.Tensor:
    """A scikit-image sample photo as RGB float ``(3, H, W)`` in ``[0, 1]``."""
    import skimage.data

    if name not in SAMPLE_NAMES:
        raise unknown_name("sample image", name, SAMPLE_NAMES)
    arr = np.asarray(getattr(skimage.data, name)())
    if arr.dtype == bool:
        arr = arr.astype(np.float32)
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    elif arr.dtype != np.float32 and arr.dtype != np.float64:
        arr = arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1 - alpha)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def sample_names(spec: str) -> list[str]:
    """``all`` -> the colour photos; ``a,b`` -> both; otherwise the one name."""
    if spec == "all":
        return list(COLOR_SAMPLES)
    return [s for s in spec.split(",") if s]
