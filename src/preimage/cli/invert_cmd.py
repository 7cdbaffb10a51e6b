"""``invert``, ``textures``, ``restyle`` and ``experiment``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from preimage.cli import args as types
from preimage.cli.main import (
    add_decoder_arguments,
    add_size_arguments,
    build_representation,
    command,
    decoder_options,
    note,
)
from preimage.errors import PreimageError, unknown_name
from preimage.files import check_folder, dumps, prepare_outputs

OUTPUT_HELP = (
    "side in pixels of the reconstructions (default: the decoder's own, 64 for every shipped one; optimize and "
    "hoggles reconstruct at --size, then downsample to min(--size, 64)); larger than the method's own output is "
    "upsampled, with a warning that this adds no detail"
)


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


def _invert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders, globs, shards or samples:NAME")
    p.add_argument(
        "--rep",
        required=True,
        help="hog, hog-dt, lbp, sift (lbp@4: another cell size) or MODEL:LAYER (e.g. alexnet64:conv3)",
    )
    p.add_argument(
        "--method",
        default="optimize",
        help="optimize (gradient descent), decoder (learned), hoggles (HOG only), autoencoder or textures "
        "(see: preimage list inverters); default optimize",
    )
    add_size_arguments(p, OUTPUT_HELP)
    p.add_argument(
        "--steps", type=types.positive, default=None, help="optimisation steps, at least 1 (default: the method's)"
    )
    p.add_argument(
        "--preset",
        choices=["mahendran", "xia"],
        default=None,
        help="optimisation recipe: mahendran (default settings of the representation) or xia (the official "
        "MXNet recipe of Xia et al. exactly; --steps caps its 1000 updates)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the starting noise")
    p.add_argument(
        "--weights", default="default", help="for MODEL:LAYER: 'default' (the shipped weights) or a weights file"
    )
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    add_decoder_arguments(p)
    p.add_argument("-o", "--out", required=True, help="output folder: one PNG per input, named after it")


@command("invert", "reconstruct images from their features (one PNG per input)", _invert_args)
def _invert(args: argparse.Namespace) -> int:
    from preimage.data import read_images, save_image, upsampled_note
    from preimage.inverters import create_inverter, taken_options

    rep = build_representation(args.rep, args.weights)
    given = {"steps": args.steps, "preset": args.preset}
    run_settings = taken_options(args.method, {"seed": args.seed, "progress": True})
    # built before any image is read: a refused option or a missing decoder is named at once
    inverter = create_inverter(
        args.method,
        rep,
        input_size=args.size,
        output_size=args.output_size,
        **run_settings,
        **{k: v for k, v in given.items() if v is not None},
        **decoder_options(args),
    )
    items, skipped = read_images(args.images, size=args.size, limit=args.limit, strict=args.strict)
    names = []
    seen: dict[str, int] = {}
    for item in items:
        names.append(item.name if item.name not in seen else f"{item.name}_{seen[item.name]}")
        seen[item.name] = seen.get(item.name, 0) + 1
    out = Path(args.out)
    targets = prepare_outputs([out / f"{stem}.png" for stem in names], args.overwrite)
    note(upsampled_note(items, args.size))
    recon = inverter.reconstruct(torch.stack([it.image for it in items]))
    written = [str(save_image(img, target)) for target, img in zip(targets, recon, strict=True)]
    print(dumps({"out": str(out), "rep": args.rep, "method": args.method, "files": written, "skipped": skipped.total}))
    return 0


_RECIPE_HELP = (
    "preimage (default): Adam on the normalised loss (TEXTURE_PRESET), tuned for the shipped [0, 1] networks; "
    "xia: the official MXNet recipe exactly (clip-10 SGD, lr 0.1 x0.9 per 10, wd 5e-4/5e-3, <=1000 steps, stop at "
    "relative change 0.005, 0-255 mean-subtracted variable, TV-Chambolle 0.2)"
)


def _textures_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="an image file or samples:NAME")
    p.add_argument(
        "--rep",
        default="auto",
        help="MODEL:LAYER whose filters to show (default: vgg19_64:relu2_1 once its weights ship, "
        "else alexnet64:conv2)",
    )
    p.add_argument(
        "--channels", default=None, help="filters, e.g. 0-63 or 0,5,9 (default: the 16 most energetic on the image)"
    )
    p.add_argument(
        "--layers", default=None, help="layers of the sheet (default relu1_1..relu5_1 on VGG, conv1..conv5 on AlexNet)"
    )
    p.add_argument("--per-layer", type=types.positive, default=8, help="most energetic filters per layer in the sheet")
    p.add_argument("--recipe", choices=["preimage", "xia"], default="preimage", help=_RECIPE_HELP)
    p.add_argument(
        "--steps", type=types.positive, default=None, help="steps per texture (default 150; xia: at most 1000)"
    )
    p.add_argument(
        "--long-edge", type=types.size, default=None, help="resize the image to this long edge in pixels (Xia: 512)"
    )
    p.add_argument("--size", type=types.size, default=64, help="side in pixels of the textures")
    p.add_argument("--seed", type=int, default=0, help="random seed of the starting noise")
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
    layers = [x for x in args.layers.split(",") if x] if args.layers else list(texture_layers(model))
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


def _restyle_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("content", metavar="CONTENT", help="content image file or samples:NAME")
    p.add_argument("--style", default=None, help="style image (needed for the purposeful modes)")
    p.add_argument(
        "--mode",
        choices=["random", "purposeful", "purposeful-direct"],
        default="random",
        help="random: energy reallocated by random rates; purposeful: optimise content + the style's per-channel "
        "energies (on VGG the official layers: content relu2_2 x10, style relu1_1..relu4_1 x1); "
        "purposeful-direct: content maps reassigned by energy rank to the style's ranking, means set to the style's",
    )
    p.add_argument(
        "--rates",
        choices=["dirichlet", "xia"],
        default="dirichlet",
        help="random rates: dirichlet (default: Dirichlet(1), every rate positive, so every target is reachable "
        "by ReLU maps) or xia (the official N(3, sd 1000) draws over their sum: signed, often negative energies)",
    )
    p.add_argument("--recipe", choices=["preimage", "xia"], default="preimage", help=_RECIPE_HELP)
    p.add_argument("--n", type=types.positive, default=6, help="number of random styles (one per seed)")
    p.add_argument("--layer", default=None, help="layer whose energy is reallocated (default conv3 / relu3_1)")
    p.add_argument("--model", default="alexnet64", help="registered CNN (see: preimage list models)")
    p.add_argument(
        "--steps", type=types.positive, default=None, help="steps per image (default 150; xia: at most 1000)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the first style")
    p.add_argument("--weights", default="default", help="'default' (the shipped weights) or a weights file")
    p.add_argument("-o", "--out", required=True, help="output folder: one PNG per style and summary.json")


@command(
    "restyle",
    "diverse styles by reallocating feature-map energy (random, or towards a style image: optimised or direct)",
    _restyle_args,
)
def _restyle(args: argparse.Namespace) -> int:
    from preimage.experiments import Context
    from preimage.experiments.feature_maps import restyle

    if args.mode.startswith("purposeful") and not args.style:
        raise PreimageError(f"--mode {args.mode} needs --style STYLE_IMAGE")
    options = {
        "content": args.content,
        "style": args.style or args.content,
        "n": args.n,
        "mode": args.mode,
        "rates": args.rates,
        "recipe": args.recipe,
        **{k: v for k, v in {"layer": args.layer, "steps": args.steps}.items() if v is not None},
    }
    first = {"purposeful": "purposeful.png", "purposeful-direct": "purposeful_direct.png"}.get(
        args.mode, f"random_seed{args.seed}.png"
    )
    prepare_outputs([Path(args.out) / first], args.overwrite)
    ctx = Context(Path(args.out), seed=args.seed, model=args.model, weights=args.weights, options=options)
    summary = restyle(ctx)
    print(dumps({"out": str(args.out), **summary}))
    return 0


def _experiment_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="an experiment name, or 'all' (see: preimage experiment list)")
    p.add_argument("-o", "--out", default="out/experiments", help="output folder, one sub-folder per experiment")
    p.add_argument("--quick", action="store_true", help="tiny settings: each experiment in under a minute")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--model", default="alexnet64", help="registered CNN (see: preimage list models)")
    p.add_argument("--weights", default="default", help="'default' (the shipped weights) or a weights file")
    p.add_argument("--data", default=None, help="test-set root, e.g. ../shared/data/tiny-imagenet-200")
    p.add_argument(
        "--limit", type=types.positive, default=None, help="images per test set (default: each experiment's)"
    )
    p.add_argument(
        "--steps", type=types.positive, default=None, help="optimisation steps (default 200; 10 with --quick)"
    )
    p.add_argument(
        "--size",
        type=types.size,
        default=None,
        help="side in pixels of the images the representations see (default 64); shallow-table --size 224 runs "
        "the paper's protocol (features of the 224-px photo, reconstructions at 64 px) beside the 64-px one",
    )


@command(
    "experiment",
    "run one of the papers' analyses (or 'all'); writes PNG, CSV and summary.json",
    _experiment_args,
)
def _experiment(args: argparse.Namespace) -> int:
    from preimage.experiments import EXPERIMENTS, Context, list_experiments, run_experiment

    names = list_experiments()
    if args.name == "list":
        for n in names:
            print(f"{n:14s} {EXPERIMENTS.help(n)}")
        return 0
    todo = names if args.name == "all" else [args.name]
    if args.name != "all" and args.name not in names:
        raise unknown_name("experiment", args.name, [*names, "all", "list"])
    prepare_outputs([Path(args.out) / n / "summary.json" for n in todo], args.overwrite)
    ctx = Context(
        Path(args.out),
        quick=args.quick,
        seed=args.seed,
        model=args.model,
        weights=args.weights,
        data=args.data,
        options={
            k: v for k, v in {"limit": args.limit, "steps": args.steps, "size": args.size}.items() if v is not None
        },
    )
    for name in todo:
        summary = run_experiment(name, ctx)
        print(dumps(summary, default=str))
    return 0


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="folder written by preimage experiment ... -o DIR")
    p.add_argument("-o", "--out", default=None, help="HTML file (default DIR/report.html)")


@command("report", "one self-contained HTML page from experiment results", _report_args)
def _report(args: argparse.Namespace) -> int:
    from preimage.report.page import build_report

    target = Path(args.out) if args.out else Path(args.dir) / "report.html"
    prepare_outputs([target], args.overwrite)
    page = build_report(Path(args.dir), target)
    print(f"wrote {page}")
    return 0
