"""``preimage textures``: feature-map inversion (Xia et al.), the texture every filter extracts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from preimage.cli import args as types
from preimage.cli.common import RECIPE_HELP, command
from preimage.errors import PreimageError
from preimage.files import check_folder, prepare_outputs
from preimage.inverters.feature_maps import RECIPES


def parse_channels(spec: str) -> list[int]:
    """``"0-7,12,20-22"`` -> ``[0..7, 12, 20, 21, 22]``."""
    out: list[int] = []
    try:
        for part in spec.split(","):
            if "-" in part:
                lo, hi = part.split("-", 1)
                out.extend(range(int(lo), int(hi) + 1))
            elif part.strip():
                out.append(int(part))
    except ValueError:
        raise PreimageError(f"bad --channels {spec!r}: write ranges like 0-63 or lists like 0,5,9") from None
    return out


def _textures_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="an image file or samples:NAME")
    p.add_argument(
        "--rep",
        default="auto",
        help="MODEL:LAYER whose filters to show (default: vgg19_64:relu2_1; alexnet64:conv2 where vgg19_64's "
        "weights are absent)",
    )
    p.add_argument(
        "--channels", default=None, help="filters, e.g. 0-63 or 0,5,9 (default: the 16 most energetic on the image)"
    )
    p.add_argument(
        "--layers", default=None, help="layers of the sheet (default relu1_1..relu5_1 on VGG, conv1..conv5 on AlexNet)"
    )
    p.add_argument("--per-layer", type=types.positive, default=8, help="most energetic filters per layer in the sheet")
    p.add_argument("--recipe", choices=list(RECIPES), default="preimage", help=RECIPE_HELP)
    p.add_argument(
        "--steps", type=types.positive, default=None, help="steps per texture (default 150; xia: at most 1000)"
    )
    p.add_argument(
        "--long-edge", type=types.size, default=None, help="resize the image to this long edge in pixels (Xia: 512)"
    )
    p.add_argument("--size", type=types.size, default=64, help="side in pixels of the textures")
    p.add_argument("--seed", type=types.seed, default=0, help="random seed of the starting noise")
    p.add_argument("--weights", default="default", help="'default' (the shipped weights) or a weights file")
    p.add_argument("-o", "--out", required=True, help="output folder: atlas, one PNG per filter, sheet and CSV")


@command("textures", "feature-map inversion: the texture every filter extracts (atlas, sheet, CSV)", _textures_args)
def _textures(args: argparse.Namespace) -> int:
    from preimage.data import iter_images, save_image
    from preimage.experiments.feature_maps import (
        recipe_config,
        save_atlas,
        texture_layers,
        texture_model,
        textures_across_layers,
    )
    from preimage.inverters.feature_maps import filter_textures
    from preimage.inverters.xia import resize_long_edge
    from preimage.representations.cnn import create_cnn_representation

    check_folder(args.out)
    rep = args.rep
    if rep == "auto":
        model = texture_model()
        rep = f"{model}:{texture_layers(model)[1]}"
    image = next(iter_images([args.image], size=args.size)).image
    if args.long_edge:
        image = resize_long_edge(image, args.long_edge)
    prepare_outputs([Path(args.out) / "textures_by_layer.csv"], args.overwrite)
    tap = create_cnn_representation(rep, weights=args.weights)
    layer = tap.layers[0]
    n_channels = tap.out_shape(tuple(image.shape[-2:]))[0]  # type: ignore[arg-type]
    channels = parse_channels(args.channels) if args.channels else None
    bad = [c for c in channels or [] if not 0 <= c < n_channels]
    if bad:
        raise PreimageError(f"--channels {bad[0]} is out of range: {rep} has {n_channels} filters (0-{n_channels - 1})")
    cfg = recipe_config(args.recipe, False, args.seed, args.steps)
    tex = filter_textures(tap, image, channels, cfg, recipe=args.recipe, k=16)
    out = Path(args.out)
    atlas = save_atlas(tex, out / f"atlas_{layer}.png")
    for c, t, a in zip(tex.channels, tex.images, tex.active, strict=True):
        if a:
            save_image(t, out / f"{layer}_filter{c:03d}.png")
    model = rep.split(":")[0]
    # the sheet's layers: --layers, else the paper's for a known network, else the one layer asked for
    layers = [x for x in args.layers.split(",") if x] if args.layers else list(texture_layers(model)) or [layer]
    table = textures_across_layers(
        f"{model}:{layer}", image, layers, args.per_layer, out, False, args.seed, args.weights, args.recipe, args.steps
    )
    print(
        json.dumps(
            {
                "atlas": str(atlas),
                "channels": tex.channels,
                "inactive": [c for c, a in zip(tex.channels, tex.active, strict=True) if not a],
                "sheet": str(out / "textures_by_layer.png"),
                "csv": str(out / "textures_by_layer.csv"),
                "layers": table,
            }
        )
    )
    return 0
