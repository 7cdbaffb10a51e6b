"""Several pre-images per code: what varies between them is what the representation throws away.

The learned decoder gives one image per code, the mean of all images that share it. Samples start from that
mean plus seeded noise and descend the representation's own optimisation objective (its feature loss and
natural-image priors, :class:`~preimage.inverters.optimize.OptimizationInverter`) until their codes match the
input's again: each is a pre-image, and they differ where the code does not pin the image down.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.inverters.base import Inverter
from preimage.inverters.optimize import OptimizationInverter
from preimage.representations.base import Representation


def relative_feature_error(rep: Representation, images: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Per image, ``||Phi(image) - code|| / ||code||``: how well an image's code matches the target code.

    Shape:
        - ``images``: :math:`(B, 3, S, S)` at the representation's input size; ``codes``: :math:`(B, *)`.
        Output: :math:`(B,)`.
    """
    with torch.no_grad():
        got = rep(images)
    return (got - codes).flatten(1).norm(dim=1) / codes.flatten(1).norm(dim=1).clamp_min(1e-12)


def sample_preimages(
    rep: Representation,
    mean_inverter: Inverter,
    images: torch.Tensor,
    samples: int,
    seed: int = 0,
    steps: int = 100,
    noise: float = 0.15,
) -> tuple[torch.Tensor, dict[str, list[float]]]:
    """``samples`` pre-images of each image's code, and their relative feature errors beside the mean's.

    Shape:
        - ``images``: :math:`(B, 3, S, S)`, ``S`` the inverter's input size. Output: :math:`(B, K, 3, S, S)`.
    """
    if samples < 1:
        raise PreimageError(f"`samples` must be at least 1, got {samples}")
    check_samplable(rep)
    side = images.shape[-1]
    codes = mean_inverter.encode(images)
    with torch.no_grad():
        mean = resize(mean_inverter(codes), side).clamp(0, 1)
    stacked = torch.stack(
        [sample_code(rep, codes, mean, seed * 1_000_003 + k, steps, noise) for k in range(samples)], 1
    )
    errors = {
        "mean": relative_feature_error(rep, mean, codes).tolist(),
        **{f"sample{k}": relative_feature_error(rep, stacked[:, k], codes).tolist() for k in range(samples)},
    }
    return stacked, errors


def sample_code(
    rep: Representation,
    codes: torch.Tensor,
    start: torch.Tensor,
    seed: int,
    steps: int = 100,
    noise: float = 0.15,
) -> torch.Tensor:
    """One pre-image of each code: ``start`` (a decoder's reconstruction) plus seeded noise of std ``noise`` at
    every scale (:func:`multiscale_noise`), then ``steps`` of the representation's optimisation objective.

    Shape:
        - ``codes``: :math:`(B, *)`; ``start``: :math:`(B, 3, S, S)` in ``[0, 1]`` at the input size ``S``.
          Output: :math:`(B, 3, S, S)`.
    """
    check_samplable(rep)
    gen = torch.Generator().manual_seed(seed)
    noisy = (start + noise * multiscale_noise(start.shape, gen)).clamp(0, 1)
    optimizer = OptimizationInverter(rep, progress=False)
    optimizer.config = replace(optimizer.config, steps=steps, seed=seed)
    return optimizer(codes, start.shape[-1], start=noisy).detach().clamp(0, 1)


def multiscale_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Unit-variance noise with equal energy at every scale: a colour offset per image, then independent
    noise on grids of 2, 8, 32 ... cells up to one per pixel, each upsampled bilinearly.

    Why: pixel noise alone has almost no energy at coarse scales, so samples started from it could only
    differ in fine detail and would hide a code's invariance to colour or layout; this noise gives the
    optimisation every scale to keep or undo.

    Shape:
        - ``shape``: :math:`(B, C, H, W)`. Output: that shape.
    """
    b, c, h, w = shape
    sides = [1]
    while sides[-1] * 4 < max(h, w):
        sides.append(sides[-1] * 4 if sides[-1] > 1 else 2)
    sides.append(max(h, w))
    total = torch.zeros(shape)
    for side in sides:
        grid = torch.randn(b, c, min(side, h), min(side, w), generator=generator)
        layer = torch.nn.functional.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False)
        total += layer / layer.std().clamp_min(1e-12)
    return total / len(sides) ** 0.5


def check_samplable(rep: Representation) -> None:
    """Samples descend the code's gradient: refuse a representation without one, before any work is done."""
    if not getattr(rep, "differentiable", True):
        raise PreimageError(
            f"{rep.name} is not differentiable: samples need gradients of its code — use hog or a CNN layer"
        )
