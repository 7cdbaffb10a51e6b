"""Argument types checked where they are parsed, and a help formatter that shows every default.

A bad value (``--size 0``, ``--limit -1``, ``--batch-size 0``) stops at parse time with one line that says
the allowed range, before a model is built or an image decoded.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

MAX_SIZE = 4096  # pixels a side: a 4096^2 RGB float batch of one is 200 MB, well within a laptop
MIN_SIZE = 16  # pixels a side: two 8-px HOG cells, one 16-px LBP cell
MAX_THREADS = 1024
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own limit: 0.27 GB as 8-bit RGB, 1.07 GB as float32 RGB

_PLACEHOLDER = re.compile(r"%(?!\(\w+\)[sdrf])")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option whose help does not already say its default, and prints a
    literal ``%`` (``95% CI``) instead of failing on it as a format character."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)

    def _expand_help(self, action: argparse.Action) -> str:
        if action.help:
            action.help = _PLACEHOLDER.sub("%%", action.help.replace("%%", "%"))
        return super()._expand_help(action)


def int_range(lo: int, hi: int | None = None, unit: str = "") -> Callable[[str], int]:
    """An ``int`` parser accepting ``lo <= value <= hi`` (``hi=None``: no upper bound)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}{suffix}" if hi is not None else f"at least {lo}{suffix}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bound}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


def float_range(
    lo: float, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> Callable[[str], float]:
    """A finite ``float`` parser for ``[lo, hi]`` (either end open when asked)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= lo if lo_open else value < lo
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if value != value or too_low or too_high:  # NaN fails every comparison
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be in {left}{lo}, {hi or 'inf'}{right}")
        return value

    parse.__name__ = "float"
    return parse


size = int_range(MIN_SIZE, MAX_SIZE, "pixels")
positive = int_range(1)
non_negative = int_range(0)
threads = int_range(1, MAX_THREADS)
# torch seeds its generators with 64-bit integers; one range for every command
seed = int_range(0, 2**63 - 1)
probability = float_range(0.0, 1.0)
positive_float = float_range(0.0, None, lo_open=True)
non_negative_float = float_range(0.0)
decay = float_range(0.0, 1.0, hi_open=True)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Options every sub-command takes: outputs, threads, damaged inputs and huge images."""
    g = p.add_argument_group("common options")
    if not any("--model" in a.option_strings for a in p._actions):
        # the commands that name one network by --model take NAME=MODULE:FACTORY there instead
        g.add_argument(
            "--model",
            dest="user_models",
            action="append",
            default=[],
            metavar="NAME=MODULE:FACTORY",
            help="your own network for --rep NAME:LAYER: MODULE (from the current folder or PYTHONPATH) is "
            "imported and FACTORY() must return an nn.Module (repeatable); e.g. r18=torchvision.models:resnet18",
        )
    g.add_argument(
        "--model-size",
        type=size,
        default=None,
        help="input side of --model networks (default: their input_size, else 224)",
    )
    g.add_argument(
        "--model-mean",
        type=float,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="input mean of --model networks, in [0, 1] (default: their mean attribute, else ImageNet's)",
    )
    g.add_argument(
        "--model-std",
        type=float,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="input std of --model networks (default: their std attribute, else ImageNet's)",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace output files that exist (without it, an existing output is an error naming it)",
    )
    g.add_argument(
        "--threads",
        type=threads,
        default=None,
        help="torch threads (default: the cores this process may run on, from its CPU affinity)",
    )
    g.add_argument(
        "--strict",
        action="store_true",
        help="a corrupt image in a folder or shard, or a truncated shard, is an error (default: skipped with "
        "one warning line and counted as 'skipped' in the JSON)",
    )
    g.add_argument(
        "--max-pixels",
        type=positive,
        default=DEFAULT_MAX_PIXELS,
        help="largest image accepted, in pixels (width x height); a larger one is a one-line error before it "
        f"is decoded (default: {DEFAULT_MAX_PIXELS}, Pillow's limit: about 1 GB decoded as float32)",
    )
