"""Every experiment runs end to end in --quick mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from preimage.experiments import Context, list_experiments, run_experiment


@pytest.mark.parametrize("name", list_experiments())
def test_experiment_quick(name: str, tmp_path: Path) -> None:
    summary = run_experiment(name, Context(tmp_path, quick=True))
    written = json.loads((tmp_path / name / "summary.json").read_text())
    assert written["experiment"] == name == summary["experiment"]
    assert any(p.suffix == ".png" for p in (tmp_path / name).iterdir())
    if name == "textures":  # both recipes on every layer, side by side, as the README shows them
        side = Image.open(tmp_path / name / "textures_by_layer_preimage_xia.png")
        single = Image.open(tmp_path / name / "textures_by_layer.png")
        assert side.height == single.height and side.width > 1.5 * single.width - 200
        assert [r["layer"] for r in written["layers_xia"]] == [r["layer"] for r in written["layers"]]


def test_optimisation_results_are_cached_and_reused(tmp_path: Path) -> None:
    first = run_experiment("shallow-table", Context(tmp_path, quick=True))
    cached = sorted((tmp_path / ".cache").glob("optimize_*.pt"))
    assert cached  # HOG optimisation was stored ...
    stamp = [p.stat().st_mtime_ns for p in cached]
    second = run_experiment("shallow-table", Context(tmp_path, quick=True))
    assert [p.stat().st_mtime_ns for p in cached] == stamp  # ... and read back, not recomputed
    rows = [(r["rep"], r["method"], r.get("normalized_error")) for r in first["rows"]]
    assert rows == [(r["rep"], r["method"], r.get("normalized_error")) for r in second["rows"]]
    # table.md quotes the measured numbers: the HOG decoder's error with half its CI, in the pivot's row
    hog = next(r for r in first["rows"] if (r["rep"], r["method"]) == ("hog", "decoder"))
    table = (tmp_path / "shallow-table" / "table.md").read_text()
    half = (hog["ci_high"] - hog["ci_low"]) / 2
    assert f"| hog | decoder | {hog['normalized_error']:.3f} ±{half:.3f} |" in table


def test_error_on_a_reference_scale_compares_sets_of_different_spread() -> None:
    # a set whose photos are twice as alike (half the contrast) has the same per-set normalised error for
    # reconstructions that are half as far off, but half the error on the first set's yardstick
    from preimage.experiments.common import error_row
    from preimage.metrics import mean_pairwise_distance

    g = torch.Generator().manual_seed(0)
    images = torch.rand(6, 3, 16, 16, generator=g)
    recon = (images + 0.1 * torch.randn(6, 3, 16, 16, generator=g)).clamp(0, 1)
    scale = mean_pairwise_distance(images)
    own = error_row(images, recon, seed=0, reference_scale=scale)
    assert own["error_ref_scale"] == pytest.approx(own["normalized_error"], rel=1e-6)
    alike, alike_recon = 0.25 + 0.5 * images, 0.25 + 0.5 * recon
    half = error_row(alike, alike_recon, seed=0, reference_scale=scale)
    assert half["normalized_error"] == pytest.approx(own["normalized_error"], rel=1e-5)
    assert half["error_ref_scale"] == pytest.approx(own["normalized_error"] / 2, rel=1e-5)


def test_mean_matched_error_removes_only_a_per_image_colour_cast() -> None:
    # a reconstruction off by a constant colour per image is perfect once its mean colour is the image's;
    # one off by zero-mean noise keeps its whole error (hand-computed: ||noise|| / the set's spread)
    from preimage.experiments.common import error_row
    from preimage.metrics import mean_pairwise_distance

    g = torch.Generator().manual_seed(1)
    images = 0.2 + 0.6 * torch.rand(5, 3, 8, 8, generator=g)
    cast = torch.tensor([0.1, -0.05, 0.15]).view(1, 3, 1, 1) * torch.arange(1, 6).view(5, 1, 1, 1) / 5
    shifted = error_row(images, images + cast, seed=0)
    assert shifted["normalized_error"] > 0.05
    assert shifted["error_mean_matched"] == pytest.approx(0.0, abs=1e-6)
    noise = 0.05 * torch.randn(5, 3, 8, 8, generator=g)
    noise -= noise.mean((2, 3), keepdim=True)
    noisy = error_row(images, images + noise, seed=0)
    expected = float((noise.flatten(1).double().norm(dim=1) / mean_pairwise_distance(images)).mean())
    assert noisy["error_mean_matched"] == pytest.approx(expected, rel=1e-5)
    assert noisy["normalized_error"] == pytest.approx(expected, rel=1e-5)
