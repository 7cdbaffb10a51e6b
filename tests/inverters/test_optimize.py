from __future__ import annotations

import math

import pytest
import torch

from preimage.data import load_sample, resize
from preimage.errors import PreimageError
from preimage.inverters.optimize import (
    OptimizationInverter,
    OptimizeConfig,
    alpha_norm,
    half_squared_loss,
    invert_optimize,
    normalized_feature_loss,
    total_variation,
)
from preimage.representations import HOG, LBP


def test_alpha_norm_by_hand() -> None:
    x = torch.zeros(1, 1, 2, 2)
    x[0, 0, 0, 0], x[0, 0, 1, 1] = 0.5, -1.0
    # (|0.5|^6 + |1|^6) / (2 * 2 * 1^6) with bound 1
    assert alpha_norm(x, alpha=6, bound=1.0).item() == pytest.approx((0.5**6 + 1.0) / 4)
    assert alpha_norm(x, alpha=2, bound=0.5).item() == pytest.approx((1.0 + 4.0) / 4)


def test_total_variation_by_hand() -> None:
    x = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]]])
    # forward differences on the top-left 2x2: (dx, dy) = (1, 2), (2, 1), (0, -2), (0, -2)
    expected = (1 + 4) + (4 + 1) + (0 + 4) + (0 + 4)
    assert total_variation(x, beta=2.0, v=1.0).item() == pytest.approx(expected / 9)
    expected_b1 = math.sqrt(5) + math.sqrt(5) + 2 + 2
    assert total_variation(x, beta=1.0, v=1.0).item() == pytest.approx(expected_b1 / 9, rel=1e-5)


def test_feature_losses_by_hand() -> None:
    target = torch.tensor([[3.0, 4.0]])
    code = torch.tensor([[0.0, 4.0]])
    assert normalized_feature_loss(code, target).item() == pytest.approx(9 / 25)
    assert half_squared_loss(code, target).item() == pytest.approx(4.5)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: alpha_norm(t, 6.0, 0.3),
        lambda t: total_variation(t, 2.0, 0.05),
        lambda t: total_variation(t, 1.5, 0.05),
    ],
)
def test_priors_gradcheck(fn: object) -> None:
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64, requires_grad=True) - 0.5
    assert torch.autograd.gradcheck(fn, (x,))  # type: ignore[arg-type]


def test_identity_representation_recovers_the_image() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    out = invert_optimize(lambda t: t, x, 16, steps=300, lr=0.05, lambda_alpha=0.0, lambda_tv=0.0, progress=False)
    assert (out - x).abs().max() < 0.02


def test_hog_inversion_cuts_feature_error_by_90_percent() -> None:
    x = resize(load_sample("chelsea"), 64)[None]
    rep = HOG()
    target = rep(x)
    cfg = OptimizeConfig(steps=200, progress=False, seed=1)
    start = OptimizationInverter(rep, cfg)._init((1, 3, 64, 64), torch.Generator().manual_seed(1)) + cfg.mean
    err_start = normalized_feature_loss(rep(start), target).item()
    out = invert_optimize(rep, target, 64, cfg)
    err_end = normalized_feature_loss(rep(out), target).item()
    assert err_end <= 0.1 * err_start, (err_start, err_end)


def test_same_seed_same_result_and_batch_independence() -> None:
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    rep = HOG()
    a = invert_optimize(rep, rep(x), 32, steps=20, progress=False, seed=4)
    b = invert_optimize(rep, rep(x), 32, steps=20, progress=False, seed=4)
    assert torch.equal(a, b)


def test_xia_recipe_runs_through_the_surrogate_and_stops_early() -> None:
    from preimage.inverters.xia import xia_invert

    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    rep = HOG()
    out = xia_invert(rep, rep(x), 32)
    assert out.shape == (1, 3, 32, 32) and float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(PreimageError, match="xia_invert"):  # no longer an approximate preset here
        OptimizationInverter(rep, "xia")


def test_bad_targets_are_clear_errors() -> None:
    rep = HOG()
    with pytest.raises(PreimageError, match="pass the matching `input_size`"):
        invert_optimize(rep, torch.rand(1, 31, 4, 4), 64, steps=1, progress=False)
    with pytest.raises(PreimageError, match="NaN"):
        invert_optimize(rep, torch.full((1, 31, 8, 8), float("nan")), 64, steps=1, progress=False)
    with pytest.raises(PreimageError, match="not differentiable"):
        OptimizationInverter(LBP())
    with pytest.raises(PreimageError, match="unknown preset"):
        OptimizationInverter(rep, "fast")
