"""``preimage invert``: images reconstructed from their features by any registered inverter."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from preimage.cli import args as types
from preimage.cli.common import (
    add_decoder_arguments,
    add_size_arguments,
    build_representation,
    command,
    decoder_option_names,
    decoder_options,
    note,
)
from preimage.files import dumps, prepare_outputs
from preimage.inverters.xia import XIA_RECIPES

OUTPUT_HELP = (
    "side in pixels of the reconstructions (default: the decoder's own, 64 for every shipped one; optimize and "
    "hoggles reconstruct at --size, then downsample to min(--size, 64)); larger than the method's own output is "
    "upsampled, with a warning that this adds no detail"
)


def _invert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, folders, globs, shards or samples:NAME")
    p.add_argument(
        "--rep",
        required=True,
        help="hog, hog-dt, lbp, sift (lbp@4: another cell size) or MODEL:LAYER (e.g. alexnet64:conv3)",
    )
    p.add_argument(
        "--method",
        default="auto",
        help="decoder (learned, one forward pass), optimize (gradient descent), hoggles (HOG only), autoencoder "
        "or textures (see: preimage list inverters); default auto: the decoder where one ships for --rep at "
        "--size (or --decoder-* is given), else optimize (also when --steps or --preset is given)",
    )
    add_size_arguments(p, OUTPUT_HELP)
    p.add_argument(
        "--steps", type=types.positive, default=None, help="optimisation steps, at least 1 (default: the method's)"
    )
    p.add_argument(
        "--preset",
        choices=["mahendran", *XIA_RECIPES],
        default=None,
        help="optimisation recipe: mahendran (default settings of the representation), xia (the official "
        "MXNet recipe of Xia et al., its loss scaled to the gradient scale its clip was set for; --steps caps its "
        "1000 updates) or xia-literal (the same unscaled)",
    )
    p.add_argument("--seed", type=types.seed, default=0, help="random seed of the starting noise")
    p.add_argument(
        "--weights", default="default", help="for MODEL:LAYER: 'default' (the shipped weights) or a weights file"
    )
    p.add_argument("--limit", type=types.positive, default=None, help="at most N images, N >= 1 (default: all of them)")
    add_decoder_arguments(p)
    p.add_argument(
        "--samples",
        type=types.positive,
        default=None,
        metavar="K",
        help="also write K different pre-images per input (NAME_sample<k>.png): the reconstruction plus seeded "
        "noise, optimised until its code matches the input's again; what varies between them is what the "
        "representation throws away (differentiable representations)",
    )
    p.add_argument(
        "--sample-steps", type=types.positive, default=100, help="optimisation steps of each sample (default 100)"
    )
    p.add_argument("-o", "--out", required=True, help="output folder: one PNG per input, named after it")


def _resolve_method(args: argparse.Namespace, rep_name: str) -> str:
    """``--method auto``: the paper's one forward pass wherever a decoder is at hand, since it is both the
    better reconstruction and ~1000x cheaper; optimisation otherwise, or when its own options ask for it."""
    if args.method != "auto":
        return str(args.method)
    from preimage.inverters.decoders import shipped_sizes

    if args.decoder_weights or args.decoder_variant or args.flip_average:
        return "decoder"
    if args.steps is None and args.preset is None and args.size in shipped_sizes(rep_name):
        return "decoder"
    return "optimize"


@command("invert", "reconstruct images from their features (one PNG per input)", _invert_args)
def _invert(args: argparse.Namespace) -> int:
    from preimage.data import read_images, save_image, upsampled_note
    from preimage.data.datasets import input_files, unique_names
    from preimage.inverters import create_inverter, taken_options

    rep = build_representation(args.rep, args.weights)
    if args.samples:
        from preimage.inverters.samples import check_samplable

        check_samplable(rep)  # before anything is read or written
    given = {"steps": args.steps, "preset": args.preset}
    method = _resolve_method(args, rep.name)
    run_settings = taken_options(method, {"seed": args.seed, "progress": True})
    # built before any image is read: a refused option or a missing decoder is named at once
    with decoder_option_names():
        inverter = create_inverter(
            method,
            rep,
            input_size=args.size,
            output_size=args.output_size,
            **run_settings,
            **{k: v for k, v in given.items() if v is not None},
            **decoder_options(args),
        )
    items, skipped = read_images(args.images, size=args.size, limit=args.limit, strict=args.strict)
    names, renamed = unique_names([it.name for it in items])
    out = Path(args.out)
    stems = [*names, *(f"{n}_sample{k}" for n in names for k in range(args.samples or 0))]
    targets = prepare_outputs([out / f"{stem}.png" for stem in stems], args.overwrite, inputs=input_files(args.images))
    if renamed:
        note(
            f"{len(renamed)} input(s) share a name with another: written as "
            + ", ".join(f"{items[i].name} -> {name}.png" for i, name in list(renamed.items())[:5])
            + (" ..." if len(renamed) > 5 else "")
        )
    note(upsampled_note(items, args.size))
    images = torch.stack([it.image for it in items])
    recon = inverter.reconstruct(images)
    written = [str(save_image(img, target)) for target, img in zip(targets, recon, strict=False)]
    result = {"out": str(out), "rep": args.rep, "method": method, "files": written, "skipped": skipped.total}
    if args.samples:
        from preimage.inverters.samples import sample_preimages

        samples, errors = sample_preimages(rep, inverter, images, args.samples, args.seed, args.sample_steps)
        flat = samples.flatten(0, 1)  # input-major, as the sample targets were listed
        written += [str(save_image(img, target)) for target, img in zip(targets[len(names) :], flat, strict=True)]
        result["files"] = written
        # relative feature error ||Phi(image) - code|| / ||code|| per input, of the one-pass reconstruction
        # (at the representation's input size) and of each sample
        result["feature_error"] = errors
    if renamed:
        # in input order: the name each clashing input had, and the file it was written to
        result["renamed"] = [[items[i].name, f"{name}.png"] for i, name in renamed.items()]
    print(dumps(result))
    return 0
