"""The detail frontier on hand-built photos whose errors and edges have closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from preimage.errors import PreimageError
from preimage.experiments import Context, run_experiment
from preimage.experiments.detail_budget import at_error, detail_frontier


def _photos() -> tuple[torch.Tensor, torch.Tensor]:
    """Two photos on a flat grey mean: one with a vertical-stripe residual in its left half, one with a
    horizontal-stripe residual in its right half, so each residual is orthogonal to the other photo's."""
    mean = torch.full((2, 3, 16, 16), 0.5)
    residual = torch.zeros(2, 3, 16, 16)
    stripes = 0.1 * (torch.arange(8) % 2 * 2 - 1).float()  # +-0.1, alternating every pixel
    residual[0, :, :, :8] = stripes.view(1, 1, 8)
    residual[1, :, :, 8:] = 0.2 * (torch.arange(16) % 2 * 2 - 1).float().view(1, 16, 1)
    return mean + residual, mean


def test_error_grows_by_the_added_detail_energy() -> None:
    target, mean = _photos()
    rows = detail_frontier(target, mean, scales=(0.0, 0.5, 1.0))
    r = target - mean
    e0, e1 = float(r[0].pow(2).sum()), float(r[1].pow(2).sum())
    scale = math.sqrt(e0 + e1)  # the two photos' distance: their residuals are orthogonal
    for row in rows:
        a = row["detail_scale"]
        # photo 0 receives photo 1's residual and the other way round; orthogonal, so the squares add
        expected = (math.sqrt(e0 + a * a * e1) + math.sqrt(e1 + a * a * e0)) / 2 / scale
        assert row["normalized_error"] == pytest.approx(expected, rel=1e-5)
    assert rows[0]["normalized_error"] == pytest.approx((math.sqrt(e0) + math.sqrt(e1)) / 2 / scale, rel=1e-5)


def test_edges_of_detail_on_a_flat_mean_reach_the_bound() -> None:
    target, mean = _photos()
    rows = detail_frontier(target, mean, scales=(0.0, 0.5, 1.0))
    # the flat mean has no edges; the detail lands where the other photo's residual was, so its edge energy is
    # a times the residuals' (no clamping: 0.5 +- 0.2 stays in [0, 1]) and meets the triangle-inequality bound
    assert rows[0]["edge_ratio"] == pytest.approx(0.0, abs=1e-7)
    for row in rows:
        assert row["edge_ratio"] == pytest.approx(row["detail_scale"], rel=1e-5)
        assert row["edge_ratio_bound"] == pytest.approx(row["edge_ratio"], rel=1e-5)


def test_bound_holds_when_detail_meets_the_mean_s_edges() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(6, 3, 16, 16, generator=gen)
    mean = (target + 0.2 * torch.rand(6, 3, 16, 16, generator=gen)).clamp(0, 1)
    for row in detail_frontier(target, mean):
        assert row["edge_ratio"] <= row["edge_ratio_bound"] + 1e-6


def test_at_error_interpolates_between_rows() -> None:
    rows = [
        {"detail_scale": 0.0, "normalized_error": 0.4, "edge_ratio": 0.2},
        {"detail_scale": 0.5, "normalized_error": 0.5, "edge_ratio": 0.6},
    ]
    point = at_error(rows, 0.475)
    assert point["detail_scale"] == pytest.approx(0.375)
    assert point["edge_ratio"] == pytest.approx(0.5)
    assert at_error(rows, 0.9) == rows[-1]


def test_frontier_refuses_mismatched_shapes() -> None:
    with pytest.raises(PreimageError, match="one shape"):
        detail_frontier(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 16, 16))


def test_experiment_traces_each_representation_up_to_the_budget(tmp_path: Path) -> None:
    summary = run_experiment("detail-budget", Context(tmp_path, quick=True))
    rows = summary["rows"]
    assert [r["rep"] for r in rows] == ["hog", "alexnet64:conv5", "alexnet64:fc6", "alexnet64:fc8"]
    for r in rows:
        # more detail, more edges and more error; the budget point lies between the mean and full detail
        assert r["edge_ratio_mse"] < r["edge_ratio_at_budget"] < r["edge_ratio_full_detail"]
        assert r["error_mse"] < r["error_full_detail"]
        assert r["edge_ratio_at_budget"] <= r["edge_ratio_bound_at_budget"] + 1e-6
        assert "error_sharp" in r  # every one of them ships a sharp decoder
    curve = (tmp_path / "detail-budget" / "frontier.csv").read_text().splitlines()
    assert len(curve) == 1 + 4 * 31
