"""``preimage features`` and ``preimage list``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from preimage.cli import args as types
from preimage.cli.main import add_size_arguments, command, note
from preimage.errors import PreimageError, unknown_name
from preimage.files import atomic_path, dumps, prepare_outputs


def _features_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files, folders, globs, shards or samples:NAME / samples:all",
    )
    p.add_argument(
        "--rep", required=True, help="representation: hog, hog-dt, lbp, sift (lbp@4: another cell size) or MODEL:LAYER"
    )
    add_size_arguments(
        p,
        "side in pixels of the copy of the images stored beside the features as 'images' (the reconstruction "
        "targets; default: --size, downsampled with antialiasing when smaller)",
    )
    p.add_argument(
        "--fit",
        choices=["center", "resize"],
        default="center",
        help="centre crop after resizing the short side (default) or squash to a square",
    )
    p.add_argument(
        "--backend",
        choices=["torch", "opencv", "vlfeat"],
        default="torch",
        help="torch (HOG/LBP in PyTorch; for sift the OpenCV detector) or vlfeat (libvl.so)",
    )
    p.add_argument(
        "--weights",
        default="default",
        help="for MODEL:LAYER: 'default' (shipped weights) or a .pth/.safetensors file",
    )
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    p.add_argument(
        "-o",
        "--out",
        required=True,
        help="output .safetensors file: the features ('features', or 'features.LAYER' for several layers) AND "
        "a copy of the input images ('images', uint8-range floats at --output-size), with the image names and "
        "settings in its metadata",
    )


@command("features", "compute a representation of images and save it as safetensors", _features_args)
def _features(args: argparse.Namespace) -> int:
    from safetensors.torch import save_file

    from preimage.data import read_images, resize, upsampled_note
    from preimage.representations import create_representation

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise PreimageError(f"output {out} must end in .safetensors — e.g. -o features.safetensors")
    prepare_outputs([out], args.overwrite)
    from preimage.representations.cnn import LayerTap

    extra = {"weights": args.weights} if ":" in args.rep else {}
    rep = create_representation(args.rep, backend=args.backend, **extra)
    items, skipped = read_images(args.images, size=args.size, fit=args.fit, limit=args.limit, strict=args.strict)
    if args.fit == "center":
        note(upsampled_note(items, args.size))
    images = torch.stack([it.image for it in items])
    with torch.no_grad():
        if isinstance(rep, LayerTap) and len(rep.layers) > 1:
            tensors = {f"features.{k}": v.contiguous().float() for k, v in rep.features(images).items()}
        else:
            tensors = {"features": rep(images).contiguous().float()}
    with atomic_path(out) as tmp:
        save_file(
            {**tensors, "images": resize(images, args.output_size or args.size).contiguous()},
            str(tmp),
            metadata={
                "rep": args.rep,
                "backend": args.backend,
                "size": str(args.size),
                "output_size": str(args.output_size or args.size),
                "names": json.dumps([it.name for it in items]),
            },
        )
    shapes = {k: list(v.shape[1:]) for k, v in tensors.items()}
    print(dumps({"out": str(out), "rep": args.rep, "n": len(items), "skipped": skipped.total, "shapes": shapes}))
    return 0


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
