"""Image measures of the report against analytic values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from preimage.report.figures import high_frequency_energy, structure_size


def _blurred_noise(sigma: float, seed: int, size: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pad = 24
    noise = torch.randn(1, 1, size + 2 * pad, size + 2 * pad, generator=g, dtype=torch.float64)
    taps = torch.exp(-(torch.arange(-pad, pad + 1, dtype=torch.float64) ** 2) / (2 * sigma**2))
    taps /= taps.sum()
    x = F.conv2d(F.conv2d(noise, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))
    return (0.5 + 0.1 * x[0]).expand(3, -1, -1).float()


@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_structure_size_of_blurred_noise_is_where_its_gaussian_autocorrelation_halves(sigma: float) -> None:
    # white noise blurred by a Gaussian of std s has a Gaussian autocorrelation of std s*sqrt(2): it is 0.5
    # at r = 2 s sqrt(ln 2)
    expected = 2 * sigma * math.sqrt(math.log(2))
    sizes = [structure_size(_blurred_noise(sigma, seed)) for seed in range(8)]
    assert sum(sizes) / len(sizes) == pytest.approx(expected, rel=0.1)


def test_structure_size_of_edge_cases() -> None:
    assert structure_size(torch.full((3, 32, 32), 0.4)) == 0.0  # flat: no structure at all
    # a one-pixel checkerboard: the ring at radius 1 holds the 4 edge neighbours (-1) and the 4 diagonal ones
    # (+1, 1.41 rounds to 1), mean 0, so the profile 1 -> 0 crosses 0.5 at r = 0.5
    checker = (torch.arange(32).view(32, 1) + torch.arange(32).view(1, 32)) % 2
    assert structure_size(checker.float().expand(3, 32, 32)) == pytest.approx(0.5, abs=1e-6)


def test_fine_noise_has_more_high_frequency_energy_and_smaller_structures_than_coarse() -> None:
    fine, coarse = _blurred_noise(1.0, 0), _blurred_noise(4.0, 0)
    assert high_frequency_energy(fine) > 3 * high_frequency_energy(coarse)
    assert structure_size(coarse) > 3 * structure_size(fine)
