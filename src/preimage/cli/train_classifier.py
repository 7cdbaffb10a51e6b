"""``preimage train-classifier``: alexnet64 or vgg19_64 on Tiny-ImageNet-200."""

from __future__ import annotations

import argparse
from dataclasses import replace

from preimage.cli.args import add_config_arguments, add_resume_argument, config_from_args
from preimage.cli.common import command
from preimage.files import run_folder
from preimage.training.classifier import ClassifierConfig, train_classifier


def _train_args(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, ClassifierConfig)
    add_resume_argument(p)


@command("train-classifier", "train alexnet64 or vgg19_64 on Tiny-ImageNet-200 (seeded, resumable)", _train_args)
def _train(args: argparse.Namespace) -> int:
    cfg = replace(config_from_args(ClassifierConfig, args), threads=args.threads)
    with run_folder(cfg.out):
        train_classifier(cfg, resume=args.resume, overwrite=args.overwrite, strict=args.strict)
    return 0
