"""What is inverted: HOG, LBP, SIFT and CNN layer taps, each a function plus an ``nn.Module``.

``create_representation("hog")``, ``create_representation("alexnet64:conv3")``;
``list_representations()`` names the built-in ones.
"""

from __future__ import annotations

import inspect
from typing import Any

from preimage.errors import PreimageError
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


def parse_cell_size(name: str) -> tuple[str, int | None]:
    """``"lbp@4"`` -> ``("lbp", 4)``; ``"lbp"`` -> ``("lbp", None)`` (the representation's own cell size).

    A cell size in the name travels with it everywhere a representation is named (training runs, decoder
    files, ``--rep``), so "what does LBP at cell 4 keep?" is asked the same way as the default.
    """
    if "@" not in name:
        return name, None
    base, _, cell = name.partition("@")
    if not (cell.isascii() and cell.isdigit()) or int(cell) < 2:
        raise PreimageError(f"representation {name!r}: the cell size after '@' must be an integer >= 2, e.g. {base}@4")
    return base, int(cell)


def create_representation(
    name: str, backend: str = "torch", weights: str | None = "default", **kwargs: Any
) -> Representation:
    """Build a representation by name: a registered one (``hog``, or ``hog@4`` for 4-pixel cells), or
    ``MODEL:LAYER[,LAYER...]`` for a CNN tap, whose network gets ``weights`` (``"default"``: the shipped
    ones; a file; None: random initialisation). This is the one place a representation's name is parsed:
    the built object says what it is (``name``, ``kind``, ``differentiable``, a network's ``weights_sha256``)."""
    if ":" in name:
        kwargs["weights"] = weights
        if "@" in name:
            raise PreimageError(f"'@CELL' sets the cell size of hog, hog-dt, lbp or sift; drop it from {name!r}")
        from preimage.representations.cnn import create_cnn_representation

        return create_cnn_representation(name, **kwargs)
    base, cell = parse_cell_size(name)
    factory = REPRESENTATIONS.get(base)
    if weights not in (None, "default"):
        raise PreimageError(f"{name} has no network weights to fill (only MODEL:LAYER has): drop the weights file")
    default = None
    if cell is not None:
        param = inspect.signature(factory).parameters.get("cell_size")
        if param is None:
            raise PreimageError(f"representation {base!r} has no cell size; drop '@{cell}' from {name!r}")
        kwargs["cell_size"], default = cell, param.default
    rep = factory(backend=backend, **kwargs)
    if cell is not None and cell != default:
        rep.name = f"{base}@{cell}"  # errors and decoder files name the variant, not the default
    return rep


def canonical_name(name: str) -> str:
    """The name a representation goes by: ``"lbp@04"`` -> ``"lbp@4"``, ``"lbp@16"`` (its default) -> ``"lbp"``.

    Decoders, teachers and zoo files are matched by this name, so every spelling of one representation
    finds them.
    """
    return name if ":" in name or "@" not in name else create_representation(name).name


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
    "canonical_name",
    "check_images",
    "create_representation",
    "hog_dalal_triggs",
    "hog_uoctti",
    "lbp_uniform",
    "list_representations",
    "parse_cell_size",
    "register_representation",
    "rgb_to_gray",
    "sift_grid",
]
