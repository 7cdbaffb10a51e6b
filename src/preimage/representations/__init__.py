"""What is inverted: HOG, LBP, SIFT and CNN layer taps, each a function plus an ``nn.Module``.

``create_representation("hog")``, ``create_representation("alexnet64:conv3")``;
``list_representations()`` names the built-in ones.
"""

from __future__ import annotations

from typing import Any

from preimage.representations import hog as _hog  # noqa: F401  (registers)
from preimage.representations import lbp as _lbp  # noqa: F401
from preimage.representations import sift as _sift  # noqa: F401
from preimage.representations.base import (
    GRAY_WEIGHTS,
    REPRESENTATIONS,
    Representation,
    check_images,
    register_representation,
    rgb_to_gray,
)
from preimage.representations.hog import HOG, HOGDalalTriggs, hog_dalal_triggs, hog_uoctti
from preimage.representations.lbp import LBP, lbp_uniform
from preimage.representations.sift import SIFTGrid, sift_grid

BACKENDS = ("torch", "opencv", "vlfeat")


def create_representation(name: str, backend: str = "torch", **kwargs: Any) -> Representation:
    """Build a representation by name: a registered one, or ``MODEL:LAYER[,LAYER...]`` for a CNN tap."""
    if ":" in name:
        from preimage.representations.cnn import create_cnn_representation

        return create_cnn_representation(name, **kwargs)
    factory = REPRESENTATIONS.get(name)
    return factory(backend=backend, **kwargs)


def list_representations() -> list[str]:
    return REPRESENTATIONS.names()


__all__ = [
    "BACKENDS",
    "GRAY_WEIGHTS",
    "HOG",
    "LBP",
    "REPRESENTATIONS",
    "HOGDalalTriggs",
    "Representation",
    "SIFTGrid",
    "check_images",
    "create_representation",
    "hog_dalal_triggs",
    "hog_uoctti",
    "lbp_uniform",
    "list_representations",
    "register_representation",
    "rgb_to_gray",
    "sift_grid",
]
