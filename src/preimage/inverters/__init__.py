"""How codes become images again: learned decoders, autoencoders, optimisation, HOGgles, feature-map inversion.

``create_inverter("decoder", rep, variant="fast", flip_average=True)`` builds one by name from the *built*
representation (``rep = create_representation("hog")``); ``list_inverters()`` names them. Every inverter is an
:class:`Inverter`: ``inverter(codes) -> images``, ``inverter.reconstruct(images)``.
"""

from __future__ import annotations

from typing import Any

from preimage.inverters import methods as _methods  # noqa: F401  (registers the inverters)
from preimage.inverters.base import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_OUTPUT_SIZE,
    INVERTERS,
    Inverter,
    inverter_options,
    output_size_for,
    refuse_options,
    register_inverter,
    taken_options,
    to_output_size,
)
from preimage.inverters.methods import (
    AutoencoderInverter,
    DecoderInverter,
    HogglesInverter,
    LinearInverter,
    OptimizeInverter,
    TextureInverter,
)
from preimage.representations.base import Representation


def create_inverter(name: str, rep: Representation, **options: Any) -> Inverter:
    """Build the inverter ``name`` for the built representation ``rep``.

    Options every inverter takes: ``input_size`` (the side of the images the codes come from, default 64) and
    ``output_size``; the others are the method's own (see :func:`inverter_options`). An unknown name, or an
    option the method does not take, is a one-line :class:`~preimage.errors.PreimageError`.

    Example:
        >>> from preimage.representations import create_representation
        >>> hog = create_representation("hog")
        >>> import torch
        >>> inverter = create_inverter("optimize", hog, steps=2)
        >>> inverter(hog(torch.rand(1, 3, 64, 64))).shape
        torch.Size([1, 3, 64, 64])
    """
    factory = INVERTERS.get(name)
    refuse_options(name, options)
    return factory(rep, **options)


def list_inverters(pattern: str = "*") -> list[str]:
    return INVERTERS.names(pattern)


__all__ = [
    "DEFAULT_INPUT_SIZE",
    "DEFAULT_OUTPUT_SIZE",
    "INVERTERS",
    "AutoencoderInverter",
    "DecoderInverter",
    "HogglesInverter",
    "Inverter",
    "LinearInverter",
    "OptimizeInverter",
    "TextureInverter",
    "create_inverter",
    "inverter_options",
    "list_inverters",
    "output_size_for",
    "register_inverter",
    "taken_options",
    "to_output_size",
]
