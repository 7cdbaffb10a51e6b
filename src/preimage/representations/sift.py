"""The founding paper's sparse SIFT grid: detected keypoints placed into cells of ``d = 4`` pixels.

Keypoint ``i`` at ``(x, y)`` (0-based pixels) goes to cell ``(floor(y / d), floor(x / d))``.
The cell vector has 133 values::

    0..127  the SIFT descriptor (unit L2 norm after VLFeat's 0.2 clipping)
    128     sin(theta)     129  cos(theta)     (theta: orientation, y axis down, radians)
    130     dx = x / d - floor(x / d)          131  dy = y / d - floor(y / d)   (sub-cell offset, [0, 1))
    132     log(sigma)                         (sigma: keypoint scale in pixels)

Empty cells are all zero. Where several keypoints (or several orientations of
one keypoint) fall into one cell, one is kept, drawn with a generator seeded by
``seed`` and a CRC of the image, so the code is the same wherever the image sits
in a batch.

Detectors (both with 3 levels per octave, octaves automatic, no peak threshold,
edge threshold 10, every dominant orientation kept, as VLFeat's ``vl_sift``
defaults):

- ``backend="opencv"`` (default; ``"torch"`` is an alias): ``cv2.SIFT``. It
  differs from VLFeat in that it always doubles the image first (first octave
  -1, so it finds more small-scale keypoints), uses its own sub-pixel
  refinement and orientation smoothing, and quantises descriptors to bytes
  (divided back by 512 here, so they are on VLFeat's unit-norm scale).
- ``backend="vlfeat"``: the real VLFeat 0.9.21 through ctypes (first octave 0).

Gray input: ``Y = 0.299 R + 0.587 G + 0.114 B`` scaled to ``[0, 255]`` (8-bit for
OpenCV). Not differentiable.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

from preimage.errors import PreimageError
from preimage.representations.base import Representation, as_hw, register_representation, rgb_to_gray
from preimage.representations.vlfeat import Keypoints

SIFT_DIM = 133
SIFT_BACKENDS = ("opencv", "vlfeat")


def detect_opencv(gray255: np.ndarray) -> Keypoints:
    """OpenCV SIFT keypoints + descriptors on a ``[0, 255]`` gray image ``(H, W)``."""
    import cv2

    img = np.clip(np.rint(gray255), 0, 255).astype(np.uint8)
    create = cv2.SIFT_create  # type: ignore[attr-defined]
    sift = create(nfeatures=0, nOctaveLayers=3, contrastThreshold=0.0, edgeThreshold=10.0, sigma=1.6)
    kps, desc = sift.detectAndCompute(img, None)
    if not kps:
        empty = np.zeros((0,), np.float32)
        return Keypoints(np.zeros((0, 2), np.float32), empty, empty, np.zeros((0, 128), np.float32))
    xy = np.array([k.pt for k in kps], dtype=np.float32)
    sigma = np.array([k.size / 2.0 for k in kps], dtype=np.float32)
    # OpenCV reports 360 - (angle of the y-up gradient), i.e. the y-down angle VLFeat uses.
    angle = np.deg2rad(np.array([k.angle for k in kps], dtype=np.float32))
    return Keypoints(xy, sigma, angle, desc.astype(np.float32) / 512.0)


def detect_vlfeat(gray255: np.ndarray) -> Keypoints:
    from preimage.representations.vlfeat import vl_sift

    return vl_sift(gray255.astype(np.float32), octaves=-1, levels=3, first_octave=0)


_DETECTORS = {"opencv": detect_opencv, "vlfeat": detect_vlfeat}


def keypoints_to_grid(
    kp: Keypoints, image_size: tuple[int, int], cell_size: int = 4, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Arrange keypoints into the ``(133, H // d, W // d)`` grid, one (random) keypoint per cell."""
    h, w = image_size
    rows, cols = h // cell_size, w // cell_size
    grid = np.zeros((SIFT_DIM, rows, cols), dtype=np.float32)
    if len(kp) == 0:
        return grid
    order = rng.permutation(len(kp)) if rng is not None else np.arange(len(kp))
    taken = np.zeros((rows, cols), dtype=bool)
    for i in order:
        x, y = float(kp.xy[i, 0]), float(kp.xy[i, 1])
        cx, cy = int(np.floor(x / cell_size)), int(np.floor(y / cell_size))
        if not (0 <= cy < rows and 0 <= cx < cols) or taken[cy, cx]:
            continue
        taken[cy, cx] = True
        grid[:128, cy, cx] = kp.descriptors[i]
        grid[128, cy, cx] = np.sin(kp.angle[i])
        grid[129, cy, cx] = np.cos(kp.angle[i])
        grid[130, cy, cx] = x / cell_size - cx
        grid[131, cy, cx] = y / cell_size - cy
        grid[132, cy, cx] = np.log(max(float(kp.sigma[i]), 1e-6))
    return grid


def sift_grid(images: torch.Tensor, cell_size: int = 4, backend: str = "opencv", seed: int = 0) -> torch.Tensor:
    """The sparse SIFT grid of RGB images in ``[0, 1]``.

    Shape:
        - Input: :math:`(B, 3, H, W)`.
        - Output: :math:`(B, 133, H // d, W // d)`; ``(B, 133, 16, 16)`` for 64x64.
    """
    backend = "opencv" if backend == "torch" else backend
    if backend not in _DETECTORS:
        raise PreimageError(f"sift: unknown backend {backend!r}; use one of {', '.join(SIFT_BACKENDS)}")
    detect = _DETECTORS[backend]
    gray = (rgb_to_gray(images.detach().float()).cpu().numpy()[:, 0] * 255.0).astype(np.float32)
    out = []
    for g in gray:
        crc = zlib.crc32(np.clip(np.rint(g), 0, 255).astype(np.uint8).tobytes())
        rng = np.random.default_rng([seed, crc])
        out.append(keypoints_to_grid(detect(g), g.shape, cell_size, rng))
    return torch.from_numpy(np.stack(out)).to(images.device, images.dtype)


class SIFTGrid(Representation):
    """Sparse SIFT keypoints on a grid of ``d``-pixel cells, as a module.

    Shape:
        - Input: :math:`(B, 3, H, W)` RGB in ``[0, 1]``.
        - Output: :math:`(B, 133, H // 4, W // 4)` with the defaults.
    """

    name = "sift"
    kind = "sift"
    differentiable = False

    def __init__(self, cell_size: int = 4, backend: str = "opencv", seed: int = 0) -> None:
        super().__init__()
        self.cell_size, self.backend, self.seed = cell_size, backend, seed

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        h, w = as_hw(image_size)
        return (SIFT_DIM, h // self.cell_size, w // self.cell_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return sift_grid(images, self.cell_size, self.backend, self.seed)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, backend={self.backend!r}, seed={self.seed}"


@register_representation("sift", "sparse SIFT keypoints on a 4-px grid, 133 values per cell")
def _sift(backend: str = "opencv", cell_size: int = 4, seed: int = 0) -> Representation:
    return SIFTGrid(cell_size=cell_size, backend=backend, seed=seed)
