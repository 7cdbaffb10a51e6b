"""The representation contract: ``(B, 3, H, W)`` images in ``[0, 1]`` -> ``(B, D, h, w)`` or ``(B, D)``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.registry import Registry

# BT.601 luma, the weights of MATLAB's rgb2gray and OpenCV's COLOR_RGB2GRAY.
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def rgb_to_gray(images: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB -> ``(B, 1, H, W)`` gray, ``Y = 0.299 R + 0.587 G + 0.114 B``, same range."""
    b, _, h, w = images.shape
    weights = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3)
    # a (1x3) @ (3 x HW) product per image: several times faster than a reduction over the channel axis
    return torch.matmul(weights, images.reshape(b, 3, h * w)).view(b, 1, h, w)


def check_images(images: torch.Tensor, name: str, min_size: int = 4) -> None:
    """One-line errors for the common mistakes at a representation's boundary."""
    if not isinstance(images, torch.Tensor):
        raise PreimageError(f"{name}: expected a torch.Tensor of images, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise PreimageError(
            f"{name}: expected images of shape (B, 3, H, W), got {tuple(images.shape)} — "
            "add a batch dimension with x[None] or expand gray to RGB with x.expand(-1, 3, -1, -1)"
        )
    if not images.is_floating_point():
        raise PreimageError(f"{name}: expected float images in [0, 1], got {images.dtype} — divide by 255")
    if images.shape[-1] < min_size or images.shape[-2] < min_size:
        raise PreimageError(
            f"{name}: images of {tuple(images.shape[-2:])} are smaller than "
            f"{min_size}x{min_size} — resize them (e.g. `input_size=64`)"
        )
    if not torch.isfinite(images).all():
        raise PreimageError(f"{name}: images contain NaN or Inf — check the input pipeline")


class Representation(nn.Module):
    """Base class: an image representation Φ with a known output shape.

    Subclasses set ``name`` and ``kind``, implement :meth:`encode` and :meth:`out_shape`.
    ``differentiable`` says whether gradients w.r.t. the image are meaningful
    (needed by optimisation inversion).
    """

    name: str = "representation"
    # the family (``hog``, ``lbp``, ``sift``, ``cnn``, ...), whatever the cell size or layer the name adds
    kind: str = "representation"
    differentiable: bool = True

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        """Shape of one code (without the batch dimension) for an image of ``image_size``."""
        raise NotImplementedError

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, self.name)
        return self.encode(images)


def as_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


REPRESENTATIONS: Registry[Representation] = Registry("representation")


def register_representation(
    name: str, help: str = ""
) -> Callable[[Callable[..., Representation]], Callable[..., Representation]]:
    """Decorator: ``@register_representation("hog")`` on a factory returning a :class:`Representation`."""
    return REPRESENTATIONS.register(name, help)
