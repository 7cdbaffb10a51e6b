"""``preimage evaluate``: the normalised reconstruction error of an inverter on a test set."""

from __future__ import annotations

import argparse
import sys

from preimage.cli import args as types
from preimage.cli.common import (
    add_decoder_arguments,
    add_size_arguments,
    build_representation,
    command,
    decoder_option_names,
    decoder_options,
)
from preimage.files import dumps


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rep", required=True, help="hog, hog-dt, lbp, sift (lbp@4: another cell size) or MODEL:LAYER")
    p.add_argument(
        "--method",
        default="decoder",
        help="decoder, optimize, autoencoder, hoggles (HOG only) or textures (see: preimage list inverters); "
        "default decoder",
    )
    p.add_argument("--data", required=True, help="images: shards, folder, glob or samples:all")
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    add_size_arguments(
        p,
        "side in pixels the error is measured at, against the input downsampled to it (bilinear, antialiased); "
        "default: the decoder's own (64 for every shipped one), min(--size, 64) for the other methods. "
        "normalized_error_full is measured at --size, the reconstruction upsampled bilinearly",
    )
    p.add_argument("--steps", type=types.positive, default=200, help="optimisation steps (method optimize)")
    p.add_argument("--batch", type=types.positive, default=64, help="images optimised together (method optimize)")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed (optimisation noise, bootstrap)")
    add_decoder_arguments(p)
    p.add_argument(
        "--json", action="store_true", help="print only the JSON result on stdout (no summary line on stderr)"
    )


@command(
    "evaluate", "normalised reconstruction error of an inverter on a test set (JSON with a 95% CI)", _evaluate_args
)
def _evaluate_inverter(args: argparse.Namespace) -> int:
    from preimage.evaluation import evaluate_inverter

    rep = build_representation(args.rep)
    with decoder_option_names():
        result = evaluate_inverter(
            rep,
            args.method,
            args.data,
            args.limit,
            args.size,
            args.steps,
            args.batch,
            args.seed,
            args.output_size,
            args.strict,
            **decoder_options(args),
        )
    print(dumps(result))
    if not args.json:
        ci = result["ci95"]
        print(
            f"preimage: {args.rep} by {args.method}: normalised error {result['normalized_error']:.4f} "
            f"(95% CI {ci[0]:.4f}-{ci[1]:.4f}) on {result.get('n')} images, {result['skipped']} skipped",
            file=sys.stderr,
        )
    return 0
