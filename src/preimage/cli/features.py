"""``preimage features``: compute a representation of images and save it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from preimage.cli import args as types
from preimage.cli.common import add_size_arguments, command, note
from preimage.errors import PreimageError
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

    rep = create_representation(args.rep, backend=args.backend, weights=args.weights)
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
