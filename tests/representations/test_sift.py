from __future__ import annotations

import numpy as np
import pytest
import torch

from preimage.representations import SIFTGrid, create_representation
from preimage.representations.sift import keypoints_to_grid, sift_grid
from preimage.representations.vlfeat import Keypoints
from tests.conftest import requires_vlfeat

BLOBS = [(12.0, 22.0), (44.0, 13.0), (50.0, 49.0), (20.0, 50.0)]  # (x, y) in pixels


def _blob_image(size: int = 64, sigma: float = 2.5) -> torch.Tensor:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = np.full((size, size), 0.9)
    for x, y in BLOBS:
        img -= 0.7 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return torch.from_numpy(img).float().clamp(0, 1).expand(3, -1, -1)[None].contiguous()


def test_grid_layout_by_hand() -> None:
    desc = np.zeros((3, 128), np.float32)
    desc[:, 0] = [0.1, 0.2, 0.3]
    kp = Keypoints(
        xy=np.array([[9.0, 5.0], [10.5, 6.5], [60.2, 1.0]], np.float32),
        sigma=np.array([2.0, 3.0, 1.5], np.float32),
        angle=np.array([0.5, 1.0, -2.0], np.float32),
        descriptors=desc,
    )
    grid = keypoints_to_grid(kp, (64, 64), 4, rng=None)
    assert grid.shape == (133, 16, 16)
    # keypoint 0 (x=9, y=5) -> cell (row 1, col 2); keypoint 1 shares it and loses (first kept)
    cell = grid[:, 1, 2]
    assert cell[0] == pytest.approx(0.1)
    assert cell[128] == pytest.approx(np.sin(0.5)) and cell[129] == pytest.approx(np.cos(0.5))
    assert cell[130] == pytest.approx(9 / 4 - 2) and cell[131] == pytest.approx(5 / 4 - 1)
    assert cell[132] == pytest.approx(np.log(2.0))
    assert grid[0, 0, 15] == pytest.approx(0.3)  # x=60.2 -> col 15, y=1 -> row 0
    occupied = np.abs(grid).sum(0) > 0
    assert occupied.sum() == 2


def test_shared_cell_choice_follows_seed() -> None:
    n = 8
    desc = np.zeros((n, 128), np.float32)
    desc[:, 0] = np.arange(1, n + 1)
    kp = Keypoints(np.full((n, 2), 5.0, np.float32), np.ones(n, np.float32), np.zeros(n, np.float32), desc)
    picks = {float(keypoints_to_grid(kp, (16, 16), 4, np.random.default_rng(s))[0, 1, 1]) for s in range(12)}
    assert len(picks) > 1  # different seeds keep different keypoints
    same = [float(keypoints_to_grid(kp, (16, 16), 4, np.random.default_rng(3))[0, 1, 1]) for _ in range(3)]
    assert len(set(same)) == 1


@pytest.mark.parametrize("backend", ["opencv", pytest.param("vlfeat", marks=requires_vlfeat)])
def test_blobs_land_in_their_cells(backend: str) -> None:
    grid = sift_grid(_blob_image(), backend=backend)[0].numpy()
    assert grid.shape == (133, 16, 16)
    occupied = np.argwhere(np.abs(grid).sum(0) > 0)
    assert len(occupied) >= len(BLOBS)
    for x, y in BLOBS:
        # some keypoint sits within 1.5 px of every blob centre, recovered from cell + sub-cell offset
        pos = [(4 * (c + grid[130, r, c]), 4 * (r + grid[131, r, c])) for r, c in occupied]
        dist = min(np.hypot(px - x, py - y) for px, py in pos)
        assert dist < 1.5, (backend, x, y, dist)
    # descriptors are unit-norm where present, and sin^2 + cos^2 = 1
    for r, c in occupied:
        assert np.linalg.norm(grid[:128, r, c]) == pytest.approx(1.0, abs=0.02)
        assert grid[128, r, c] ** 2 + grid[129, r, c] ** 2 == pytest.approx(1.0, abs=1e-5)


def test_same_image_same_code_in_any_batch_position() -> None:
    img = _blob_image()
    other = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    a = sift_grid(torch.cat([img, other]))[0]
    b = sift_grid(torch.cat([other, img]))[1]
    assert torch.equal(a, b)


def test_out_shape_for_paper_size() -> None:
    assert create_representation("sift").out_shape(64) == (133, 16, 16)
    assert SIFTGrid()(torch.rand(1, 3, 64, 64)).shape == (1, 133, 16, 16)
