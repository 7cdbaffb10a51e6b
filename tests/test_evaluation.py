"""evaluate's plausibility metrics: what a grid texture does to them, beside a smooth reconstruction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from preimage.data import iter_images
from preimage.evaluation import plausibility


def test_a_grid_texture_raises_the_edge_energy_and_shows_as_a_periodic_peak() -> None:
    photos = torch.stack([it.image for it in iter_images(["samples:all"], size=64)])
    blurred = F.avg_pool2d(photos, 5, 1, 2, count_include_pad=False)
    # a +-0.1 pattern repeated every 4 px (what a hold on 4x4 block means leaves free)
    tile = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]] * 2)
    gridded = (photos + 0.1 * tile.repeat(16, 16)).clamp(0, 1)
    smooth, grid = plausibility(photos, blurred), plausibility(photos, gridded)
    assert smooth["edge_energy_ratio"] < 1 < grid["edge_energy_ratio"]
    assert smooth["periodic_peak"]["reconstruction"] < 2 < grid["periodic_peak"]["reconstruction"]
    assert grid["periodic_peak"]["photo"] == smooth["periodic_peak"]["photo"] < 2
    # the pattern is the same on every image: most of the gridded images' detail is common to all of them
    assert smooth["fixed_pattern_share"]["reconstruction"] < 0.3 < grid["fixed_pattern_share"]["reconstruction"]
    assert grid["fixed_pattern_share"]["photo"] < 2 / len(photos)
    # a gray pattern adds no colour to the detail; blurring removes the photos' own
    assert smooth["colour_detail_ratio"] < 0.5 and 0.7 < grid["colour_detail_ratio"] < 1.3
