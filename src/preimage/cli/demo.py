"""``preimage demo``: the main job on the embedded sample photos."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage.cli import args as types
from preimage.cli.common import command
from preimage.files import prepare_outputs


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--images", default="samples:all", help="images to use (default: scikit-image's photos)")
    p.add_argument("--steps", type=types.positive, default=100, help="optimisation steps per inversion")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed")


@command("demo", "the main job on the embedded sample photos: writes out/demo/index.html", _demo_args)
def _demo(args: argparse.Namespace) -> int:
    from preimage.report.demo import run_demo

    out = Path(args.out)
    prepare_outputs([out / "index.html", out / "summary.json"], args.overwrite)
    summary = run_demo(out, args.images, args.steps, args.seed, args.strict)
    print(f"wrote {summary['page']} ({summary['seconds']} s)")
    return 0
