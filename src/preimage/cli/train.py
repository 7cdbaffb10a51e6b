"""``train-classifier``, ``evaluate-classifier``, ``train-decoder``, ``fit-linear``, ``train-hoggles`` and
``shrink-checkpoint``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from preimage import zoo
from preimage.cli import args as types
from preimage.cli.args import add_config_arguments, config_from_args
from preimage.cli.main import command
from preimage.files import dumps, prepare_outputs, run_folder
from preimage.training.classifier import ClassifierConfig, train_classifier
from preimage.training.decoder import DecoderConfig, train_decoder
from preimage.training.linear import LinearConfig, fit_linear


def add_resume_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt (settings that differ from the checkpoint's are an error, "
        "except the run length, checkpoint interval and threads)",
    )


def _train_args(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p, ClassifierConfig)
    add_resume_argument(p)


@command("train-classifier", "train alexnet64 or vgg19_64 on Tiny-ImageNet-200 (seeded, resumable)", _train_args)
def _train(args: argparse.Namespace) -> int:
    cfg = replace(config_from_args(ClassifierConfig, args), threads=args.threads)
    with run_folder(cfg.out):
        train_classifier(cfg, resume=args.resume, overwrite=args.overwrite, strict=args.strict)
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="registered model name, e.g. alexnet64")
    p.add_argument("--weights", default="default", help="'default' (shipped) or a .safetensors/.pth file")
    p.add_argument(
        "--data", required=True, help="labelled shards, e.g. ../shared/data/tiny-imagenet-200/val-0000.tar.gz"
    )
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    p.add_argument("--size", type=types.size, default=None, help="input side in pixels (default: the model's)")


@command("evaluate-classifier", "top-1/top-5 accuracy of a classifier on labelled shards (JSON)", _eval_args)
def _evaluate(args: argparse.Namespace) -> int:
    from preimage.data import materialize
    from preimage.models import create_model, get_config
    from preimage.training.classifier import evaluate_classifier

    cfg = get_config(args.model)
    model = create_model(args.model, weights=args.weights)
    x, y = materialize(args.data, args.size or cfg.input_size, "center", args.limit, strict=args.strict)
    result = evaluate_classifier(model, x, y, cfg.mean, cfg.std)
    print(dumps({"model": args.model, "weights": str(args.weights), **result}))
    return 0


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


def _shrink_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="RUN/checkpoint.pt of train-classifier or train-decoder")
    p.add_argument("-o", "--out", required=True, help="fp16 copy; put it back as RUN/checkpoint.pt to --resume")


@command(
    "shrink-checkpoint",
    "fp16 copy of a training checkpoint, to carry an unfinished run to another machine",
    _shrink_args,
)
def _shrink(args: argparse.Namespace) -> int:
    from preimage.training.common import shrink_checkpoint

    prepare_outputs([args.out], args.overwrite)
    out = shrink_checkpoint(args.checkpoint, args.out)
    print(dumps({"out": str(out), "mb": round(out.stat().st_size / 2**20, 2)}))
    return 0
