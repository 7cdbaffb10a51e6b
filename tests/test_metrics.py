from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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


def test_protocol_errors_by_hand() -> None:
    # flat images: downsampling and upsampling leave a flat image flat, so every distance is by hand
    from preimage.metrics import protocol_errors

    values = [0.2, 0.5, 0.9]
    images = torch.stack([torch.full((3, 8, 8), v) for v in values])
    recon = torch.stack([torch.full((3, 4, 4), v + 0.1) for v in values])
    # at 4x4: ||x_i - r_i|| = 0.1 * sqrt(48); mean pair distance = mean(|vi - vj|) * sqrt(48)
    pair = np.mean([abs(a - b) for a in values for b in values if a != b])
    out = protocol_errors(images, recon)
    assert out["normalized_error"] == pytest.approx(0.1 / pair, rel=1e-5)
    # at 8x8 the factor sqrt(192) cancels the same way
    assert out["normalized_error_full"] == pytest.approx(0.1 / pair, rel=1e-5)
    assert out["n"] == 3 and len(out["ci95"]) == 2 and len(out["ci95_full"]) == 2


def test_protocol_errors_score_detail_only_at_the_input_size() -> None:
    # a checkerboard of 1-px squares vanishes when downsampled 2x (the antialiasing filter's weights
    # 1/8, 3/8, 3/8, 1/8 sum to zero on it, except where the border renormalises them): a flat
    # reconstruction is near-perfect at the output size and scored for the lost detail at the full size
    from preimage.metrics import protocol_errors

    board = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2
    images = torch.stack([0.5 + 0.2 * (2 * board.float() - 1)] * 3 + [torch.full((8, 8), 0.1)] * 3)
    images = torch.stack([images[:3], images[3:]])  # two RGB images: a checkerboard and a flat dark one
    recon = torch.stack([torch.full((3, 4, 4), 0.5), torch.full((3, 4, 4), 0.1)])
    out = protocol_errors(images, recon)
    assert out["normalized_error"] < 0.01
    assert out["normalized_error_full"] > 0.1


def _smooth_fields(n: int, size: int, seed: int) -> torch.Tensor:
    """Gaussian-blurred noise (sigma 4 px, circular): images with a smooth, steeply falling spectrum."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, 3, size, size, generator=g)
    taps = torch.exp(-(torch.arange(-12, 13).float() ** 2) / 32)
    taps /= taps.sum()
    x = F.conv2d(F.pad(noise, (12, 12, 0, 0), mode="circular"), taps.view(1, 1, 1, -1).expand(3, 1, 1, 25), groups=3)
    x = F.conv2d(F.pad(x, (0, 0, 12, 12), mode="circular"), taps.view(1, 1, -1, 1).expand(3, 1, 25, 1), groups=3)
    return 0.5 + 0.15 * x / x.std()


def test_periodic_peaks_find_a_faint_grid_that_smooth_images_lack() -> None:
    from preimage.metrics import periodic_peaks

    smooth = _smooth_fields(16, 64, seed=0)
    assert periodic_peaks(smooth).max() < 1.5
    # one-pixel lines every 64/7 px (a 7x7 bottleneck's grid), 2% of the range: harmonics 14, 21, 28 stand out
    rows = torch.zeros(64)
    rows[[0, 10, 19, 28, 37, 46, 55]] = 1.0
    gridded = smooth + 0.02 * (rows.view(1, 1, -1, 1) + rows.view(1, 1, 1, -1))
    peaks = periodic_peaks(gridded)
    assert int(peaks.argmax()) % 7 == 0 and peaks.max() > 4
    # frequencies without two neighbours inside (0, W/2) are not scored
    assert peaks.shape == (33,) and peaks[:2].eq(0).all() and peaks[-2:].eq(0).all()
    with pytest.raises(PreimageError, match="square images"):
        periodic_peaks(torch.zeros(2, 3, 64, 32))


def test_periodic_peaks_score_each_frequency_against_its_two_neighbours() -> None:
    # white noise (a flat spectrum: ratios near 1) plus a cosine of 12 cycles per image along both axes:
    # the peak is exactly at 12, and 11 and 13, which have it as a neighbour, fall below 1
    from preimage.metrics import periodic_peaks

    g = torch.Generator().manual_seed(0)
    noise = 0.05 * torch.randn(32, 3, 64, 64, generator=g, dtype=torch.float64)
    wave = torch.cos(2 * math.pi * 12 * torch.arange(64, dtype=torch.float64) / 64)
    peaks = periodic_peaks(0.5 + noise + 0.05 * (wave.view(1, 1, 1, -1) + wave.view(1, 1, -1, 1)))
    assert int(peaks.argmax()) == 12 and peaks[12] > 3
    assert peaks[11] < 1 and peaks[13] < 1
    flat = periodic_peaks(0.5 + noise)
    assert (flat[2:31] - 1).abs().max() < 0.2


def test_mean_colour_correlation_matches_numpy_corrcoef_per_channel() -> None:
    from preimage.metrics import mean_colour_correlation

    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 3, 8, 8, generator=g)
    y = 0.5 * x.flip(0) + 0.5 * torch.rand(20, 3, 4, 4, generator=g).repeat_interleave(2, -1).repeat_interleave(2, -2)
    a, b = x.mean((2, 3)).numpy(), y.mean((2, 3)).numpy()
    expected = np.mean([np.corrcoef(a[:, c], b[:, c])[0, 1] for c in range(3)])
    assert mean_colour_correlation(x, y) == pytest.approx(expected, rel=1e-5)
    # a gain and an offset per channel keep the colour perfectly
    assert mean_colour_correlation(x, 0.3 * x + 0.2) == pytest.approx(1.0)
    # chroma: a brightness change alone keeps it; the same brightness in other hues does not
    assert mean_colour_correlation(x, x * torch.rand(20, 1, 1, 1, generator=g), chroma=True) > 0.5
    grey = x.mean(1, keepdim=True).expand_as(x)
    swapped = grey + (x - grey)[:, [1, 2, 0]]
    assert mean_colour_correlation(x, swapped) > mean_colour_correlation(x, swapped, chroma=True) + 0.5


def test_thumbnail_oracle_is_the_mean_colour_at_one_and_the_image_at_full_size() -> None:
    from preimage.metrics import thumbnail_oracle

    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(thumbnail_oracle(x, 1), x.mean((2, 3), keepdim=True).expand_as(x))
    torch.testing.assert_close(thumbnail_oracle(x, 8), x)
    # a 2x2 thumbnail holds the four quadrant means (hand-computed corner: bilinear edges clamp to it)
    corner = thumbnail_oracle(x, 2)[:, :, 0, 0]
    torch.testing.assert_close(corner, x[:, :, :4, :4].mean((2, 3)))


def test_edge_energy_of_a_step_is_hand_computed_and_blur_lowers_the_ratio() -> None:
    from preimage.metrics import edge_energy, edge_energy_ratio

    step = torch.zeros(1, 3, 4, 4)
    step[..., 2:] = 1.0  # a vertical edge: one unit jump in each row's three x-differences, none along y
    assert float(edge_energy(step)[0]) == pytest.approx((1 / 3 + 0) / 2)
    photos = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    blurred = F.avg_pool2d(photos, 3, 1, 1, count_include_pad=False)
    assert edge_energy_ratio(photos, photos) == pytest.approx(1.0)
    assert edge_energy_ratio(photos, blurred) < 0.6


def test_judge_agreement_counts_top1_top5_and_feature_distance() -> None:
    from preimage.metrics import judge_agreement

    class Fake(torch.nn.Module):
        input_size = 8

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # features: the image; logits: class k scores the mean of channel... a fixed ranking per brightness
            mean = x.mean((1, 2, 3))
            logits = torch.stack([-(mean - c / 9).abs() for c in range(10)], 1)
            return x, logits

    photos = torch.stack([torch.full((3, 8, 8), c / 9) for c in (1, 3, 6, 9)])
    same = judge_agreement(Fake(), photos, photos)
    assert same == {"top1": 1.0, "top5": 1.0, "feature_distance": 0.0}
    shifted = photos.clone()
    shifted[0] = 2 / 9  # class 2 instead of 1: not top-1, but 1 is among 2's five nearest (2, 1, 3, 0, 4)
    shifted[1] = 9 / 9  # class 9 instead of 3: 3 is not among 9's five nearest (9, 8, 7, 6, 5)
    got = judge_agreement(Fake(), photos, shifted)
    assert got["top1"] == 0.5 and got["top5"] == 0.75
    # hand-computed: relative distances 1 (2/9 vs 1/9) and 2 (9/9 vs 3/9), 0 and 0, over 4 images
    assert got["feature_distance"] == pytest.approx(0.75, rel=1e-5)


def test_fixed_pattern_share_is_one_for_a_stamp_zero_for_cancelling_detail_and_small_for_photos() -> None:
    from preimage.data import iter_images
    from preimage.metrics import fixed_pattern_share

    g = torch.Generator().manual_seed(0)
    stamp = torch.rand(1, 3, 32, 32, generator=g)
    assert fixed_pattern_share(stamp.expand(5, 3, 32, 32)) == pytest.approx(1.0)  # the same detail in every image
    # the same pattern with opposite signs: detail as strong, nothing in common
    assert fixed_pattern_share(torch.cat([0.5 + stamp - 0.5, 0.5 - stamp + 0.5])) == pytest.approx(0.0, abs=1e-12)
    # a smooth image plus one stamp of detail: the smooth parts blur to themselves, the stamp's detail is common
    base = torch.linspace(0, 1, 32).view(1, 1, 1, 32).expand(4, 3, 32, 32) * torch.rand(4, 1, 1, 1, generator=g)
    assert fixed_pattern_share(base + 0.2 * stamp) > 0.9
    photos = torch.stack([it.image for it in iter_images(["samples:all"], size=64)])
    assert fixed_pattern_share(photos) < 2 / len(photos)
    # independent noise, 600 images (three chunks): nothing in common but chance, E = 1/N
    noise = torch.rand(600, 3, 16, 16, generator=g)
    assert fixed_pattern_share(noise) == pytest.approx(1 / 600, rel=0.1)
    with pytest.raises(PreimageError, match="at least 2 images"):
        fixed_pattern_share(stamp)


def test_colour_detail_energy_counts_only_the_colour_of_fine_detail() -> None:
    from preimage.data import iter_images
    from preimage.data.images import gaussian_blur
    from preimage.metrics import colour_detail_energy, colour_detail_ratio

    g = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 1, 32, 32, generator=g) - 0.5
    gray = (0.5 + 0.3 * noise).expand(4, 3, 32, 32)
    assert torch.all(colour_detail_energy(gray) < 1e-12)  # gray detail has no colour
    # detail in the red channel only: per pixel (d, 0, 0) minus its channel mean (d/3) leaves
    # (2d/3, -d/3, -d/3), whose mean square over the 3 channels is (4 + 1 + 1) / 27 d^2 = 2/9 d^2
    red = torch.cat([0.5 + 0.3 * noise, torch.full_like(noise, 0.5), torch.full_like(noise, 0.5)], 1)
    detail = 0.3 * noise - gaussian_blur(0.3 * noise, 1.0)
    expected = (2 / 9) * detail.pow(2).flatten(1).mean(1)
    assert torch.allclose(colour_detail_energy(red), expected, rtol=1e-5)
    # smooth colour (a ramp in red and green) is not detail; only the ramp's ends bend under the mirrored border
    ramp = torch.linspace(0.2, 0.8, 32).view(1, 1, 1, 32).expand(1, 1, 32, 32)
    smooth = torch.cat([ramp, 1 - ramp, torch.full_like(ramp, 0.5)], 1)
    assert float(colour_detail_energy(smooth)) < 1e-2 * float(colour_detail_energy(red[:1]))
    photos = torch.stack([it.image for it in iter_images(["samples:all"], size=64)])
    assert colour_detail_ratio(photos, photos) == pytest.approx(1.0)
    sign = torch.sign(noise[:1]).repeat(len(photos), 3, 2, 2)
    fringed = (photos + 0.05 * sign * torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1)).clamp(0, 1)
    assert colour_detail_ratio(photos, fringed) > 2  # +-0.05 red-green fringes outweigh the photos' own colour
    assert colour_detail_ratio(photos, photos.mean(1, keepdim=True).expand_as(photos)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(PreimageError, match="RGB"):
        colour_detail_energy(gray[:, :1])
