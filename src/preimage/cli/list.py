"""``preimage list``: representations, inverters, models, sample images, the zoo."""

from __future__ import annotations

import argparse

from preimage.cli.common import command
from preimage.errors import unknown_name

LISTABLE = ("reps", "inverters", "models", "layers", "samples", "zoo")


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what",
        help="reps, inverters, models, layers (of every model, or of --model networks: tap-able modules with their "
        "output shapes and aliases), samples or zoo (every shipped file, with its metrics)",
    )


@command("list", "list representations, inverters, models (with their weights), sample images or the zoo", _list_args)
def _list(args: argparse.Namespace) -> int:
    if args.what not in LISTABLE:
        raise unknown_name("listing", args.what, LISTABLE)
    if args.what == "reps":
        from preimage.representations import REPRESENTATIONS

        for name in REPRESENTATIONS.names():
            print(f"{name:10s} {REPRESENTATIONS.help(name)}")
        print(f"{'MODEL:LAYER':10s} a CNN layer, e.g. alexnet64:conv3, alexnet64:fc7,prob, vgg19:relu4_1")
    elif args.what == "inverters":
        from preimage.inverters import INVERTERS, inverter_options

        for name in INVERTERS.names():
            print(f"{name:12s} {INVERTERS.help(name)}  options: {', '.join(inverter_options(name))}")
    elif args.what == "models":
        from preimage.models import default_weights_path, get_config, list_models

        for name in list_models():
            cfg = get_config(name)
            path = default_weights_path(name)
            weights = f"weights: {path.name}" if path else "weights: bring your own (--weights PATH)"
            print(f"{name:10s} {cfg.input_size}px  {weights}  — {cfg.description}")
    elif args.what == "layers":
        _list_layers(args.user_models)
    elif args.what == "zoo":
        from preimage import zoo

        print(zoo.table())
    else:
        from preimage.data import COLOR_SAMPLES, SAMPLE_NAMES

        for name in SAMPLE_NAMES:
            print(f"samples:{name}" + ("   (in samples:all)" if name in COLOR_SAMPLES else ""))
    return 0


def _list_layers(specs: list[str]) -> None:
    """Each model's tap-able modules and their output shapes at its input size, aliases beside their module."""
    from preimage.models import create_model, get_config, list_models
    from preimage.models.user import parse_model_spec
    from preimage.representations.cnn import layer_shapes

    names = [parse_model_spec(s)[0] for s in specs] or list_models()
    for name in names:
        cfg = get_config(name)
        by_module = {module: alias for alias, module in cfg.aliases.items()}
        print(f"{name} ({cfg.input_size}x{cfg.input_size} input): --rep {name}:LAYER")
        for layer, shape in layer_shapes(create_model(name), cfg.input_size):
            alias = f"  alias {by_module[layer]}" if layer in by_module else ""
            print(f"  {layer:28s} {'x'.join(map(str, shape)):16s}{alias}")
        if cfg.num_classes:
            print(f"  {'prob':28s} {cfg.num_classes:<16d}  softmax of the output")
