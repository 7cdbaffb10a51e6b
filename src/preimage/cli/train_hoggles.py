"""``preimage train-hoggles``: the HOGgles paired dictionary."""

from __future__ import annotations

import argparse
from pathlib import Path

from preimage import zoo
from preimage.cli import args as types
from preimage.cli.common import command
from preimage.files import prepare_outputs, run_folder


def _train_hoggles_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="shard folder with train-*.tar.gz and val-*.tar.gz")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--atoms", type=types.positive, default=256, help="dictionary atoms (paired HOG/image pairs)")
    p.add_argument("--alpha", type=types.positive_float, default=0.02, help="lasso penalty")
    p.add_argument("--windows", type=types.positive, default=20_000, help="training windows")
    p.add_argument("--rounds", type=types.positive, default=5, help="coding + dictionary-update rounds")
    p.add_argument("--train-images", type=types.positive, default=20_000, help="training images to cut windows from")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed")
    p.add_argument("--cache-dir", default=None, help="keep decoded uint8 arrays here between runs (default: none)")


@command("train-hoggles", "learn the HOGgles paired dictionary (baseline HOG inverter)", _train_hoggles_args)
def _train_hoggles(args: argparse.Namespace) -> int:
    from preimage.inverters.hoggles import HogglesConfig
    from preimage.training.hoggles import train_hoggles

    prepare_outputs([Path(args.out) / zoo.file_name("hoggles", "hog")], args.overwrite)
    cfg = HogglesConfig(atoms=args.atoms, alpha=args.alpha, windows=args.windows, epochs=args.rounds, seed=args.seed)
    with run_folder(args.out):
        train_hoggles(args.data, args.out, cfg, args.train_images, args.cache_dir, args.strict)
    return 0
