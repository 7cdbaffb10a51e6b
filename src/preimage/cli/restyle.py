"""``preimage restyle``: styles by reallocating feature-map energy (Xia et al.)."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage.cli import args as types
from preimage.cli.common import RECIPE_HELP, command
from preimage.errors import PreimageError
from preimage.files import dumps, prepare_outputs
from preimage.inverters.feature_maps import RECIPES


def _restyle_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("content", metavar="CONTENT", help="content image file or samples:NAME")
    p.add_argument("--style", default=None, help="style image (needed for the purposeful modes)")
    p.add_argument(
        "--mode",
        choices=["random", "purposeful", "purposeful-direct"],
        default="random",
        help="random: energy reallocated by random rates; purposeful: optimise content + the style's per-channel "
        "energies (on VGG the official layers: content relu2_2 x10, style relu1_1..relu4_1 x1); "
        "purposeful-direct: content maps reassigned by energy rank to the style's ranking, means set to the style's",
    )
    p.add_argument(
        "--rates",
        choices=["dirichlet", "xia"],
        default="dirichlet",
        help="random rates: dirichlet (default: Dirichlet(1), every rate positive, so every target is reachable "
        "by ReLU maps) or xia (the official N(3, sd 1000) draws over their sum: signed, often negative energies)",
    )
    p.add_argument("--recipe", choices=list(RECIPES), default="preimage", help=RECIPE_HELP)
    p.add_argument("--n", type=types.positive, default=6, help="number of random styles (one per seed)")
    p.add_argument("--layer", default=None, help="layer whose energy is reallocated (default conv3 / relu3_1)")
    p.add_argument("--model", default="alexnet64", help="registered CNN (see: preimage list models)")
    p.add_argument(
        "--steps", type=types.positive, default=None, help="steps per image (default 150; xia: at most 1000)"
    )
    p.add_argument("--seed", type=types.seed, default=0, help="random seed of the first style")
    p.add_argument("--weights", default="default", help="'default' (the shipped weights) or a weights file")
    p.add_argument("-o", "--out", required=True, help="output folder: one PNG per style and summary.json")


@command(
    "restyle",
    "diverse styles by reallocating feature-map energy (random, or towards a style image: optimised or direct)",
    _restyle_args,
)
def _restyle(args: argparse.Namespace) -> int:
    from preimage.experiments import Context
    from preimage.experiments.feature_maps import restyle

    if args.mode.startswith("purposeful") and not args.style:
        raise PreimageError(f"--mode {args.mode} needs --style STYLE_IMAGE")
    options = {
        "content": args.content,
        "style": args.style or args.content,
        "n": args.n,
        "mode": args.mode,
        "rates": args.rates,
        "recipe": args.recipe,
        **{k: v for k, v in {"layer": args.layer, "steps": args.steps}.items() if v is not None},
    }
    first = {"purposeful": "purposeful.png", "purposeful-direct": "purposeful_direct.png"}.get(
        args.mode, f"random_seed{args.seed}.png"
    )
    prepare_outputs([Path(args.out) / first], args.overwrite)
    ctx = Context(Path(args.out), seed=args.seed, model=args.model, weights=args.weights, options=options)
    summary = restyle(ctx)
    print(dumps({"out": str(args.out), **summary}))
    return 0
