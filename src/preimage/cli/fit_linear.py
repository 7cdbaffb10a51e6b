"""``preimage fit-linear``: the linear baseline, ridge regression from code to image."""

from __future__ import annotations

import argparse

from preimage.cli.args import add_config_arguments, config_from_args
from preimage.cli.common import command
from preimage.files import run_folder
from preimage.training.linear import LinearConfig, fit_linear


@command(
    "fit-linear",
    "fit the linear baseline (ridge regression, closed form) from a representation's code to the image",
    lambda p: add_config_arguments(p, LinearConfig),
)
def _fit_linear(args: argparse.Namespace) -> int:
    cfg = config_from_args(LinearConfig, args)
    with run_folder(cfg.out):
        fit_linear(cfg, overwrite=args.overwrite, strict=args.strict)
    return 0
