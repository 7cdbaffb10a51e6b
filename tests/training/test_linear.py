"""The linear baseline: ridge regression in closed form against numpy, and the fitted map end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from preimage.cli.main import main
from preimage.data import load_image, materialize
from preimage.inverters.decoders import Decoder, LinearDecoder, linear_grid
from preimage.metrics import normalized_reconstruction_error
from preimage.training.linear import NormalEquations, ridge_path, squared_error
from tests.conftest import make_tiny_dataset


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(300, 12, generator=g) * torch.linspace(0.1, 3, 12) + 2.0
    y = x[:, :3] @ torch.randn(3, 5, generator=g) + 0.3 * torch.randn(300, 5, generator=g) - 1.0
    return x, y


def test_ridge_path_matches_numpy_ridge_with_an_intercept() -> None:
    x, y = _data()
    stats = NormalEquations()
    for i in range(0, 300, 70):  # accumulated in batches of unequal size
        stats.add(x[i : i + 70], y[i : i + 70])
    xn, yn = x.double().numpy(), y.double().numpy()
    xc, yc = xn - xn.mean(0), yn - yn.mean(0)
    gram = xc.T @ xc
    for alpha, (w, b) in zip((1e-3, 1.0), ridge_path(stats, (1e-3, 1.0)), strict=True):
        lam = alpha * np.trace(gram) / gram.shape[0]
        w_ref = np.linalg.solve(gram + lam * np.eye(12), xc.T @ yc)
        b_ref = yn.mean(0) - xn.mean(0) @ w_ref
        np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(b.numpy(), b_ref, rtol=1e-6, atol=1e-9)
    # a vanishing strength is ordinary least squares (numpy's lstsq on [x, 1])
    (w, b), *_ = ridge_path(stats, (1e-12,))
    coef, *_ = np.linalg.lstsq(np.hstack([xn, np.ones((300, 1))]), yn, rcond=None)
    np.testing.assert_allclose(w.numpy(), coef[:-1], rtol=1e-6, atol=1e-8)


def test_squared_error_from_sums_equals_the_direct_error() -> None:
    x, y = _data(1)
    stats = NormalEquations()
    stats.add(x, y)
    w = torch.randn(12, 5, dtype=torch.float64)
    b = torch.randn(5, dtype=torch.float64)
    direct = float(((y.double() - (x.double() @ w + b)) ** 2).sum(1).mean())
    assert squared_error(stats, w, b) == pytest.approx(direct, rel=1e-9)


def test_linear_grid_and_decoder_are_linear_in_the_code() -> None:
    assert linear_grid((31, 8, 8)) == 8  # HOG at 64 px: 1984 values, read whole
    assert linear_grid((256, 6, 6)) == 4  # 256 * 16 = 4096
    assert linear_grid((200,)) == 0
    net = LinearDecoder((16, 6, 6), out_size=32, grid=3, thumbnail_size=4)
    c1, c2 = torch.randn(2, 16, 6, 6), torch.randn(2, 16, 6, 6)
    zero = net(torch.zeros_like(c1))
    torch.testing.assert_close(net(c1 + c2) + zero, net(c1) + net(c2), atol=1e-5, rtol=1e-5)
    # the pooled features are the 2x2 box means of the code (hand-computed for one cell)
    feats = net.features(c1).view(2, 16, 3, 3)
    torch.testing.assert_close(feats[:, :, 0, 0], c1[:, :, :2, :2].mean((2, 3)))
    assert net(c1).shape == (2, 3, 32, 32)


def test_fit_linear_beats_the_mean_image_and_inverts_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the tiny data set's classes are a bright square in one quadrant: HOG's edges say which one, linearly
    make_tiny_dataset(tmp_path)
    run = tmp_path / "run"
    assert main(["fit-linear", "--rep", "hog", "--data", str(tmp_path), "-o", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    weights = run / "decoder_hog.linear.safetensors"
    assert Decoder.from_file(weights).arch.network == "linear"
    assert "Linear decoder (ridge regression)" in (run / "decoder_hog.linear.md").read_text()
    # against the best code-blind guess, the training images' mean, on the same val images: the map reads the square
    train_x, _ = materialize(str(tmp_path / "train-0000.tar.gz"), 64)
    val_x, _ = materialize(str(tmp_path / "val-0000.tar.gz"), 64)
    mean_image = (train_x.float() / 255).mean(0, keepdim=True).expand(len(val_x), -1, -1, -1)
    blind = normalized_reconstruction_error(val_x.float() / 255, mean_image)
    assert summary["val"]["normalized_error"] < 0.8 * blind
    out = tmp_path / "inv"
    inv = ["invert", "samples:chelsea", "--rep", "hog", "--method", "linear"]
    assert main([*inv, "--decoder-weights", str(weights), "-o", str(out)]) == 0
    picture = load_image(out / "chelsea.png")
    assert picture.std() > 0.02  # a layout, not a flat grey
    assert main([*inv, "--size", "128", "-o", str(out / "x")]) == 2
    assert "fit-linear" in capsys.readouterr().err
