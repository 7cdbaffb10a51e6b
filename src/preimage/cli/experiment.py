"""``preimage experiment``: the papers' analyses."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage.cli import args as types
from preimage.cli.common import (
    command,
)
from preimage.errors import unknown_name
from preimage.files import dumps, prepare_outputs


def _experiment_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="an experiment name, or 'all' (see: preimage experiment list)")
    p.add_argument("-o", "--out", default="out/experiments", help="output folder, one sub-folder per experiment")
    p.add_argument("--quick", action="store_true", help="tiny settings: each experiment in under a minute")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed")
    p.add_argument("--model", default="alexnet64", help="registered CNN (see: preimage list models)")
    p.add_argument("--weights", default="default", help="'default' (the shipped weights) or a weights file")
    p.add_argument("--data", default=None, help="test-set root, e.g. ../shared/data/tiny-imagenet-200")
    p.add_argument(
        "--limit", type=types.positive, default=None, help="images per test set (default: each experiment's)"
    )
    p.add_argument(
        "--steps", type=types.positive, default=None, help="optimisation steps (default 200; 10 with --quick)"
    )
    p.add_argument(
        "--size",
        type=types.size,
        default=None,
        help="side in pixels of the images the representations see (default 64); shallow-table --size 224 runs "
        "the paper's protocol (features of the 224-px photo, reconstructions at 64 px) beside the 64-px one",
    )


@command(
    "experiment",
    "run one of the papers' analyses (or 'all'); writes PNG, CSV and summary.json",
    _experiment_args,
)
def _experiment(args: argparse.Namespace) -> int:
    from preimage.experiments import EXPERIMENTS, Context, list_experiments, run_experiment

    names = list_experiments()
    if args.name == "list":
        for n in names:
            print(f"{n:14s} {EXPERIMENTS.help(n)}")
        return 0
    todo = names if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in names:
        raise unknown_name("experiment", args.name, [*names, "all", "list"])
    prepare_outputs([Path(args.out) / n / "summary.json" for n in todo], args.overwrite)
    ctx = Context(
        Path(args.out),
        quick=args.quick,
        seed=args.seed,
        model=args.model,
        weights=args.weights,
        data=args.data,
        options={
            k: v for k, v in {"limit": args.limit, "steps": args.steps, "size": args.size}.items() if v is not None
        },
    )
    for name in todo:
        summary = run_experiment(name, ctx)
        print(dumps(summary, default=str))
    return 0
