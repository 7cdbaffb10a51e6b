"""What the sub-command modules share: the command registry, shared arguments and the stderr note.

The entry point (:mod:`preimage.cli.main`) only builds the parser from :data:`COMMANDS` and dispatches.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from preimage.cli import args as types
from preimage.errors import PreimageError
from preimage.registry import Registry

# every sub-command: its run(args) function, its help line and (extra "configure") the builder of its arguments
COMMANDS: Registry[int | None] = Registry("command")


def command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int | None]], Callable[[argparse.Namespace], int | None]]:
    """Register ``run(args)`` as ``preimage NAME``; ``configure`` adds its arguments."""
    return COMMANDS.register(name, help, configure=configure)


def add_decoder_arguments(p: argparse.ArgumentParser) -> None:
    """``--flip-average``, ``--decoder-weights`` and ``--decoder-variant``, shared by ``invert`` and ``evaluate``."""
    p.add_argument(
        "--flip-average", action="store_true", help="decoder: average with the mirrored code's decoding (HOG, LBP)"
    )
    p.add_argument(
        "--decoder-weights",
        default=None,
        metavar="FILE",
        help="decoder: these weights (a train-decoder export) instead of the shipped decoder",
    )
    p.add_argument(
        "--decoder-variant",
        default=None,
        metavar="NAME",
        help="decoder: another shipped decoder for --rep, e.g. fast (hog: a cheaper sub-pixel student) or sharp "
        "(hog --size 224, alexnet64 conv5, fc6, fc8: DeePSiM, detail instead of the blurred mean); preimage list zoo "
        "shows them all",
    )


# create_inverter's decoder options -> the parameters (flags) invert and evaluate set them by
DECODER_OPTION_DESTS = {"flip_average": "flip_average", "weights": "decoder_weights", "variant": "decoder_variant"}


def decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The decoder options the user set (``flip_average``, ``weights``, ``variant``), for ``create_inverter``:
    passed only when set, so that a method that does not take them refuses them by name."""
    given = {option: getattr(args, dest) for option, dest in DECODER_OPTION_DESTS.items()}
    return {k: v for k, v in given.items() if v}


@contextmanager
def decoder_option_names() -> Iterator[None]:
    """Errors raised inside name the decoder options as the command does (``weights`` -> ``--decoder-weights``)."""
    try:
        yield
    except PreimageError as err:
        raise err.renamed(DECODER_OPTION_DESTS) from err.__cause__


def build_representation(spec: str, weights: str = "default") -> Any:
    """The representation ``--rep`` names; ``--weights`` for a ``MODEL:LAYER`` tap."""
    from preimage.representations import create_representation

    return create_representation(spec, weights=weights)


def add_size_arguments(p: argparse.ArgumentParser, output_help: str) -> None:
    """``--size`` (what the representation sees) and ``--output-size`` (the reconstruction), one definition."""
    p.add_argument(
        "--size",
        type=types.size,
        default=64,
        help="side in pixels of the square image the representation sees: photos are centre-cropped to a "
        "square and resized (smaller ones upsampled, with a note); 64 (default) or 224 for the paper's protocol",
    )
    p.add_argument("--output-size", type=types.size, default=None, metavar="M", help=output_help)


def note(message: str | None) -> None:
    """A one-line remark on stderr (not an error): what was done to the input and why."""
    if message:
        print(f"preimage: {message}", file=sys.stderr)


# --recipe of textures and restyle
RECIPE_HELP = (
    "preimage (default): Adam on the normalised loss (TEXTURE_PRESET), tuned for the shipped [0, 1] networks; "
    "xia: the official MXNet recipe (clip-10 SGD, lr 0.1 x0.9 per 10, wd 5e-4/5e-3, <=1000 steps, stop at "
    "relative change 0.005, 0-255 mean-subtracted variable, TV-Chambolle 0.2) with the loss scaled so that the first "
    "update's median pixel gradient is the clip, the scale the recipe was tuned for on Caffe's VGG-19; "
    "xia-literal: the same without that scaling (on networks with normalised input it stops on flat grey)"
)
