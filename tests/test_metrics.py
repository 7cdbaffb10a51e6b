from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from preimage.errors import PreimageError
from preimage.metrics import (
    bootstrap,
    mean_pairwise_distance,
    normalized_reconstruction_error,
    per_image_normalized_error,
    psnr,
    ssim,
)


def _images() -> torch.Tensor:
    x = torch.zeros(3, 1, 1, 2)
    x[1, 0, 0, 0] = 3.0  # image 1 = (3, 0)
    x[2, 0, 0, 1] = 4.0  # image 2 = (0, 4)
    return x


def test_normalized_error_by_hand() -> None:
    x = _images()
    # pairwise distances: |0-1| = 3, |0-2| = 4, |1-2| = 5 -> mean over the 6 ordered pairs = 4
    assert mean_pairwise_distance(x) == pytest.approx(4.0)
    x_hat = x.clone()
    x_hat[0, 0, 0, 0] = 2.0  # error 2 on image 0, 0 elsewhere
    assert per_image_normalized_error(x, x_hat).tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert normalized_reconstruction_error(x, x_hat) == pytest.approx(0.5 / 3)
    assert normalized_reconstruction_error(x, x) == 0.0


def test_normalized_error_needs_two_images_and_same_shapes() -> None:
    with pytest.raises(PreimageError, match="at least 2"):
        normalized_reconstruction_error(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4))
    with pytest.raises(PreimageError, match="one shape"):
        normalized_reconstruction_error(torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 5))


def test_psnr_and_ssim() -> None:
    x = torch.full((2, 3, 16, 16), 0.5)
    noisy = x + 0.1
    assert psnr(x, noisy).tolist() == pytest.approx([20.0, 20.0])  # 10 log10(1 / 0.01)
    ref = peak_signal_noise_ratio(x[0].numpy(), noisy[0].numpy(), data_range=1.0)
    assert psnr(x, noisy)[0].item() == pytest.approx(ref)
    assert ssim(x, x).tolist() == pytest.approx([1.0, 1.0])


def test_bootstrap_interval_contains_mean_and_is_seeded() -> None:
    values = np.random.default_rng(0).normal(1.0, 0.2, 400)
    est = bootstrap(values, seed=3)
    assert est.ci95[0] < est.mean < est.ci95[1]
    # the interval is about +-1.96 standard errors
    assert est.ci95[1] - est.ci95[0] == pytest.approx(2 * 1.96 * values.std() / math.sqrt(400), rel=0.15)
    assert bootstrap(values, seed=3) == est
