"""``preimage evaluate-classifier``: top-1/top-5 accuracy on labelled shards."""

from __future__ import annotations

import argparse

from preimage.cli import args as types
from preimage.cli.common import command
from preimage.files import dumps


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
