"""``preimage train-decoder``: an up-convolutional decoder for one representation."""

from __future__ import annotations

import argparse
from dataclasses import replace

from preimage.cli.args import add_config_arguments, add_resume_argument, config_from_args
from preimage.cli.common import command
from preimage.files import run_folder
from preimage.training.decoder import DecoderConfig, train_decoder


def _train_decoder_args(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, DecoderConfig)
    add_resume_argument(p)


@command(
    "train-decoder", "train an up-convolutional decoder for one representation (torchrun for DDP)", _train_decoder_args
)
def _train_decoder(args: argparse.Namespace) -> int:
    cfg = replace(config_from_args(DecoderConfig, args), threads=args.threads)
    with run_folder(cfg.out):
        train_decoder(cfg, resume=args.resume, overwrite=args.overwrite, strict=args.strict)
    return 0
