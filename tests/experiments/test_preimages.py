"""What differs between samples: colour, layout and detail shares on hand-built differences."""

from __future__ import annotations

import pytest
import torch

from preimage.errors import PreimageError
from preimage.experiments.preimages import variation_parts


def _pair(base: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    return torch.stack([base, base + delta])[None]  # (1, 2, 3, S, S)


def test_each_kind_of_difference_lands_in_its_own_share() -> None:
    base = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    colour = torch.tensor([0.1, -0.2, 0.05]).view(3, 1, 1).expand(3, 16, 16)
    # one 4x4 block brighter and another as much darker: zero mean, constant on the thumbnail's boxes
    layout = torch.zeros(3, 16, 16)
    layout[:, :4, :4], layout[:, 12:, 12:] = 0.2, -0.2
    # a pixel checkerboard averages to zero on every 4x4 box
    detail = 0.1 * ((torch.arange(16)[:, None] + torch.arange(16)[None]) % 2 * 2 - 1).float().expand(3, 16, 16)
    for delta, share in ((colour, "share_colour"), (layout, "share_layout"), (detail, "share_detail")):
        parts = variation_parts(_pair(base, delta))
        assert parts[share] == pytest.approx(1.0, abs=1e-5)
        assert parts["mean_abs_difference"] == pytest.approx(float(delta.abs().mean()), rel=1e-5)
    mixed = variation_parts(_pair(base, colour + detail))
    # orthogonal parts: the shares are the parts' energies over the total (hand-computed)
    e_colour, e_detail = float(colour.pow(2).sum()), float(detail.pow(2).sum())
    assert mixed["share_colour"] == pytest.approx(e_colour / (e_colour + e_detail), rel=1e-4)
    assert mixed["share_colour"] + mixed["share_layout"] + mixed["share_detail"] == pytest.approx(1.0, abs=1e-5)


def test_variation_needs_two_samples() -> None:
    with pytest.raises(PreimageError, match="K>=2"):
        variation_parts(torch.rand(1, 1, 3, 16, 16))
