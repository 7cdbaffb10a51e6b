"""Reconstruction metrics: the founding paper's normalised error, PSNR and SSIM, with bootstrap intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from preimage.data.images import gaussian_blur, resize
from preimage.errors import PreimageError


def _check_pair(x: torch.Tensor, x_hat: torch.Tensor) -> None:
    if x.shape != x_hat.shape or x.dim() != 4:
        raise PreimageError(
            f"expected two image batches of one shape (N, C, H, W), got {tuple(x.shape)} and {tuple(x_hat.shape)}"
        )


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean Euclidean distance between all pairs of *distinct* images of the batch (``N >= 2``)."""
    n = x.shape[0]
    if n < 2:
        raise PreimageError("the normalised error needs at least 2 test images (it divides by their mean distance)")
    flat = x.flatten(1)
    # in blocks of rows against blocks of columns, each widened to float64 on its own: the whole distance
    # matrix of 10,000 images, and the images in float64, would hold ~2 GB at once
    total = 0.0
    for i in range(0, n, _BLOCK):
        rows = flat[i : i + _BLOCK].double()
        total += sum(float(torch.cdist(rows, flat[j : j + _BLOCK].double()).sum()) for j in range(0, n, _BLOCK))
    return total / (n * (n - 1))


_BLOCK = 1024


def per_image_normalized_error(x: torch.Tensor, x_hat: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """``||x_i - x_hat_i||_2 / scale`` per image, ``scale`` = :func:`mean_pairwise_distance` of ``x``."""
    _check_pair(x, x_hat)
    scale = mean_pairwise_distance(x) if scale is None else scale
    norms = [
        (x[i : i + _BLOCK] - x_hat[i : i + _BLOCK]).flatten(1).double().norm(dim=1) for i in range(0, len(x), _BLOCK)
    ]
    return torch.cat(norms) / scale


def normalized_reconstruction_error(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Dosovitskiy & Brox's normalised reconstruction error.

    The mean over test images of ``||x - x_hat||_2``, divided by the mean
    Euclidean distance between pairs of distinct test images (RGB in ``[0, 1]``,
    here at the images' own size). 0 is perfect; a reconstruction no better
    than a random other test image scores about 1.

    Shape:
        - ``x``, ``x_hat``: :math:`(N, 3, H, W)`, ``N >= 2``.
    """
    return float(per_image_normalized_error(x, x_hat).mean())


def mean_colour_correlation(x: torch.Tensor, x_hat: torch.Tensor, chroma: bool = False) -> float:
    """How well reconstructions keep each photo's colour: Pearson's correlation, across the images, between the
    photos' and the reconstructions' mean value of one channel, averaged over the channels (1: the colour of
    every photo kept up to one gain and offset per channel; 0: unrelated; NaN for a constant channel).

    Brightness moves all three channels together and dominates that number; ``chroma`` correlates each
    channel's mean *minus the mean of the three* instead, which only the hue and saturation move.

    Shape:
        - ``x``, ``x_hat``: :math:`(N, C, H, W)` and :math:`(N, C, H', W')`, ``N >= 2``.
    """
    if x.dim() != 4 or x_hat.dim() != 4 or x.shape[:2] != x_hat.shape[:2] or len(x) < 2:
        raise PreimageError(
            f"expected two batches of N >= 2 images with one channel count, got {tuple(x.shape)}"
            f" and {tuple(x_hat.shape)}"
        )
    a, b = x.double().mean((2, 3)), x_hat.double().mean((2, 3))
    if chroma:
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    a, b = a - a.mean(0), b - b.mean(0)
    return float(((a * b).sum(0) / (a.norm(dim=0) * b.norm(dim=0))).mean())


def thumbnail_oracle(x: torch.Tensor, side: int) -> torch.Tensor:
    """Each image painted from its own ``side`` x ``side`` box-averaged thumbnail, upsampled bilinearly: a
    reconstruction that needs no network (``side`` 1: the image's mean colour), the reference a decoder of a
    layer that keeps only colour and layout has to reach.

    Shape:
        - ``x``: :math:`(N, C, H, W)`. Output: the same.
    """
    thumb = torch.nn.functional.adaptive_avg_pool2d(x.float(), side)
    return torch.nn.functional.interpolate(thumb, size=x.shape[-2:], mode="bilinear", align_corners=False)


def psnr(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB (scikit-image's ``peak_signal_noise_ratio``, data range 1)."""
    from skimage.metrics import peak_signal_noise_ratio

    _check_pair(x, x_hat)
    return torch.tensor(
        [
            peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1.0)
            for a, b in zip(x.double(), x_hat.double().clamp(0, 1), strict=True)
        ]
    )


def ssim(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (scikit-image's ``structural_similarity`` over RGB, data range 1)."""
    from skimage.metrics import structural_similarity

    _check_pair(x, x_hat)
    return torch.tensor(
        [
            structural_similarity(
                a.numpy().transpose(1, 2, 0), b.numpy().transpose(1, 2, 0), channel_axis=2, data_range=1.0
            )
            for a, b in zip(x.double(), x_hat.double().clamp(0, 1), strict=True)
        ]
    )


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci95: tuple[float, float]
    n: int

    def as_dict(self) -> dict[str, object]:
        return {"mean": self.mean, "ci95": list(self.ci95), "n": self.n}


def bootstrap(values: torch.Tensor | np.ndarray, samples: int = 2000, seed: int = 0) -> Estimate:
    """Mean with a percentile-bootstrap 95% interval (seeded)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise PreimageError("bootstrap of an empty set of values")
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, (samples, arr.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return Estimate(float(arr.mean()), (float(lo), float(hi)), int(arr.size))


def protocol_errors(images: torch.Tensor, recon: torch.Tensor, seed: int = 0) -> dict[str, object]:
    """The normalised error of reconstructions at both sizes of the protocol, each with a bootstrap 95% CI.

    - ``normalized_error``: at the reconstruction's size, against the input downsampled to it (bilinear with
      antialiasing, ``torch.nn.functional.interpolate(..., antialias=True)``: a triangle filter as wide as
      the scale factor, as Pillow's ``BILINEAR`` reduce). This is what the decoders are trained to predict.
    - ``normalized_error_full``: at the input's size, the reconstruction upsampled bilinearly (as Dosovitskiy
      & Brox scored their AlexNet inversions). Equal to the first when both sizes are the same.

    Shape:
        - ``images``: :math:`(N, 3, H, H)`, ``N >= 2``; ``recon``: :math:`(N, 3, M, M)`.
    """
    if images.dim() != 4 or recon.dim() != 4 or len(images) != len(recon):
        raise PreimageError(
            f"expected image batches (N, 3, H, W) of one length, got {tuple(images.shape)} and {tuple(recon.shape)}"
        )
    images, recon = images.float(), recon.float()
    target = resize(images, (int(recon.shape[-2]), int(recon.shape[-1])))
    est = bootstrap(per_image_normalized_error(target, recon), seed=seed)
    if target.shape == images.shape:
        full = est
    else:
        up = torch.nn.functional.interpolate(recon, size=images.shape[-2:], mode="bilinear", align_corners=False)
        full = bootstrap(per_image_normalized_error(images, up.clamp(0, 1)), seed=seed)
    return {
        "normalized_error": est.mean,
        "ci95": list(est.ci95),
        "normalized_error_full": full.mean,
        "ci95_full": list(full.ci95),
        "n": est.n,
    }


def edge_energy(images: torch.Tensor) -> torch.Tensor:
    """Per image, the mean absolute gradient (forward differences along x and y) of the gray image
    (``Y = 0.299 R + 0.587 G + 0.114 B``): how much edge and texture it holds.

    Shape:
        - ``images``: :math:`(N, 3, H, W)` in ``[0, 1]``. Output: :math:`(N,)`.
    """
    gray = (images.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    dx = (gray[:, :, 1:] - gray[:, :, :-1]).abs().flatten(1).mean(1)
    dy = (gray[:, 1:, :] - gray[:, :-1, :]).abs().flatten(1).mean(1)
    return (dx + dy) / 2


def edge_energy_ratio(images: torch.Tensor, recon: torch.Tensor) -> float:
    """How much of the photos' edge energy the reconstructions keep: the mean of :func:`edge_energy` over the
    reconstructions over that of the photos, at the reconstructions' size (1: as sharp as the photos; a
    decoder of pixel MSE, which predicts the mean of all images sharing a code, stays well under it)."""
    target = resize(images.float(), (int(recon.shape[-2]), int(recon.shape[-1])))
    return float(edge_energy(recon).mean() / edge_energy(target).mean().clamp_min(1e-12))


COLOUR_DETAIL_SIGMA = 1.0  # px: colour fringes live in the finest detail, which photos hardly colour


def colour_detail_energy(images: torch.Tensor, sigma: float = COLOUR_DETAIL_SIGMA) -> torch.Tensor:
    """Per image, the mean squared colour of its fine detail: the detail (image minus its Gaussian blur) minus
    its mean over the channels, so gray detail scores 0. Photos colour their finest detail little (a few percent of
    its energy); rainbow fringes along painted strokes colour it strongly.

    Shape:
        - ``images``: :math:`(N, 3, H, W)`, sides above ``3 sigma``. Output: :math:`(N,)`.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise PreimageError(f"expected RGB images (N, 3, H, W), got {tuple(images.shape)}")
    detail = images.float() - gaussian_blur(images.float(), sigma)
    return (detail - detail.mean(1, keepdim=True)).pow(2).flatten(1).mean(1)


def colour_detail_ratio(images: torch.Tensor, recon: torch.Tensor, batch: int = 256) -> float:
    """How strongly the reconstructions colour their fine detail, over the photos (at the reconstructions' size):
    the mean of :func:`colour_detail_energy` over the reconstructions over that of the photos. 1: as colourful as
    the photos' detail; well above 1: colour fringes the photos do not have."""
    side = (int(recon.shape[-2]), int(recon.shape[-1]))
    ours = theirs = 0.0
    for i in range(0, len(images), batch):
        theirs += float(colour_detail_energy(resize(images[i : i + batch].float(), side)).sum())
        ours += float(colour_detail_energy(recon[i : i + batch].float()).sum())
    return ours / max(theirs, 1e-30)


@torch.no_grad()
def judge_agreement(
    judge: torch.nn.Module, images: torch.Tensor, recon: torch.Tensor, batch: int = 256
) -> dict[str, float]:
    """Whether a classifier (a judge never used in training) sees the same thing in photo and reconstruction.

    ``judge`` maps ``(N, 3, S, S)`` images in ``[0, 1]`` to ``(features, logits)``; both are resized to its
    input size ``S`` first (``judge.input_size``). Returns ``top1`` (fraction whose top class agrees),
    ``top5`` (fraction whose photo's top class is among the reconstruction's five) and ``feature_distance``
    (mean of ``||f(recon) - f(photo)|| / ||f(photo)||``).
    """
    side = int(getattr(judge, "input_size", images.shape[-1]))
    top1 = top5 = distance = 0.0
    for i in range(0, len(images), batch):
        x, y = resize(images[i : i + batch].float(), side), resize(recon[i : i + batch].float(), side)
        fx, lx = judge(x)
        fy, ly = judge(y)
        label = lx.argmax(1)
        top1 += float((ly.argmax(1) == label).sum())
        top5 += float((ly.topk(5, 1).indices == label[:, None]).any(1).sum())
        distance += float(((fy - fx).flatten(1).norm(dim=1) / fx.flatten(1).norm(dim=1).clamp_min(1e-12)).sum())
    n = len(images)
    return {"top1": top1 / n, "top5": top5 / n, "feature_distance": distance / n}


def periodic_peaks(images: torch.Tensor) -> torch.Tensor:
    """How strongly each spatial frequency stands out of its neighbours: a decoder's grid artifacts.

    The images are high-passed (minus their 3x3 box blur), and the power spectra of their rows and of their
    columns are averaged over the batch. Entry ``k`` (``2 <= k < W/2 - 1``; the others are 0) is the power at
    ``k`` cycles per image over the geometric mean of the powers at ``k - 1`` and ``k + 1``. Natural images and smooth
    reconstructions have smooth spectra (ratios near 1); a pattern repeated every ``W / k`` pixels, such as the
    grid a transposed convolution paints from its coarsest map, is a narrow peak (ratio well above 1).

    Shape:
        - ``images``: :math:`(N, C, H, W)` with ``H == W >= 8``. Output: :math:`(W // 2 + 1,)`.
    """
    if images.dim() != 4 or images.shape[-1] != images.shape[-2] or images.shape[-1] < 8:
        raise PreimageError(f"expected square images (N, C, H, H) with H >= 8, got {tuple(images.shape)}")
    x = images.double()
    blur = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
    high = x - blur
    rows = torch.fft.rfft(high, dim=-1).abs().pow(2).mean((0, 1, 2))
    cols = torch.fft.rfft(high, dim=-2).abs().pow(2).mean((0, 1, 3))
    power = (rows + cols) / 2
    # against the geometric mean of the neighbours: a spectrum falling exponentially with frequency (the
    # high-passed spectrum of a smooth image) scores exactly 1, so a peak shows on a steep slope too
    ratios = torch.zeros_like(power)
    neighbours = (power[1:-3] * power[3:-1]).clamp_min(1e-60).sqrt()
    ratios[2:-2] = power[2:-2] / neighbours
    return ratios.float()


FINE_DETAIL_SIGMA = 2.0  # px: the detail of a 64-px image is what a Gaussian of this sigma blurs away


def fixed_pattern_share(images: torch.Tensor, sigma: float = FINE_DETAIL_SIGMA) -> float:
    """The share of the images' fine detail that is the same in every image: ``||mean_i d_i||^2 / mean_i
    ||d_i||^2`` with ``d_i`` image ``i`` minus its Gaussian blur. A decoder that paints one texture whatever the
    code (a grid, a stamp) scores near 1; photos, whose detail is their own, near ``1 / N`` (N images).

    Shape:
        - ``images``: :math:`(N, C, H, W)`, ``N >= 2``, sides above ``3 sigma``.
    """
    if images.dim() != 4 or len(images) < 2:
        raise PreimageError(f"expected a batch (N, C, H, W) of at least 2 images, got {tuple(images.shape)}")
    total = torch.zeros(images.shape[1:], dtype=torch.float64)
    energy = 0.0
    for start in range(0, len(images), 256):  # in chunks: a whole val set in float64 would be gigabytes
        x = images[start : start + 256].double()
        detail = x - gaussian_blur(x, sigma)
        total += detail.sum(0)
        energy += float(detail.pow(2).sum())
    n = len(images)
    return float((total / n).pow(2).sum()) / max(energy / n, 1e-30)
