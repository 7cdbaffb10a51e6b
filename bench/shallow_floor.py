"""How far down can a shallow-feature decoder go? Decoders, their ensembles and image oracles on the same images.

    python bench/shallow_floor.py --rep lbp --data ../shared/data/tiny-imagenet-200 --limit 2000 \
        --decoder src/preimage/zoo/decoder_lbp.safetensors --decoder OTHER.safetensors [--flip] [--oracles]

Prints JSON: the normalised error of each ``--decoder`` (and, with ``--flip``, of its flip-averaged decoding),
of the mean of every subset of two or more of them (the ensemble estimate of E[x | Phi(x)]), and with
``--oracles`` of reconstructions that are handed part of the true image (its mean colour, its 4x4 or 8x8
colour thumbnail, its luminance). Independent decoders that agree, and ensembles that gain little, say the
decoders sit at what the code carries; the oracles say what a code of that many cells could carry at best.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from preimage.data import iter_images
from preimage.inverters.decoders import invert_with_decoder
from preimage.metrics import mean_pairwise_distance, per_image_normalized_error
from preimage.representations import create_representation, rgb_to_gray


def oracles(images: torch.Tensor, train: torch.Tensor) -> dict[str, torch.Tensor]:
    n = len(images)
    out = {
        "mean training image": train.mean(0, keepdim=True).expand(n, -1, -1, -1),
        "own mean colour": images.mean((2, 3), keepdim=True).expand_as(images),
        "own luminance as gray": rgb_to_gray(images).expand_as(images),
    }
    for k in (16, 8):  # 4x4 and 8x8 thumbnails of a 64-px image
        thumb = F.avg_pool2d(images, k)
        up = F.interpolate(thumb, size=images.shape[-2:], mode="bilinear", align_corners=False)
        out[f"own {thumb.shape[-1]}x{thumb.shape[-1]} thumbnail"] = up
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rep", required=True, help="hog, lbp, sift, lbp@4, ...")
    p.add_argument("--data", default="../shared/data/tiny-imagenet-200", help="folder with val-0000.tar.gz")
    p.add_argument("--limit", type=int, default=2000, help="first N val images")
    p.add_argument("--decoder", action="append", default=[], help="trained decoder weights (repeatable)")
    p.add_argument("--flip", action="store_true", help="also flip-average each decoder (hog, lbp); ensembles use it")
    p.add_argument("--oracles", action="store_true", help="also score reconstructions handed part of the image")
    args = p.parse_args()
    torch.manual_seed(0)
    val = str(Path(args.data) / "val-0000.tar.gz")
    images = torch.stack([it.image for it in iter_images([val], size=64, fit="center", limit=args.limit)])
    scale = mean_pairwise_distance(images)
    rep = create_representation(args.rep)
    with torch.no_grad():
        codes = torch.cat([rep(images[i : i + 256]) for i in range(0, len(images), 256)])
    recon: dict[str, torch.Tensor] = {}
    for path in args.decoder:
        for flip in (False, True) if args.flip else (False,):
            # each decoder is checked to invert this representation at 64 px
            out = invert_with_decoder(args.rep, codes, flip_average=flip, weights=path, size=64).float()
            recon[f"{path}{' +flip' if flip else ''}"] = out
    members = [k for k in recon if k.endswith(" +flip") or not args.flip]
    decoders = {k: float(per_image_normalized_error(images, v, scale).mean()) for k, v in recon.items()}
    ensembles: dict[str, float] = {}
    for r in range(2, len(members) + 1):
        for combo in itertools.combinations(members, r):
            mean = torch.stack([recon[k] for k in combo]).mean(0)
            ensembles[" + ".join(combo)] = float(per_image_normalized_error(images, mean, scale).mean())
    result: dict[str, object] = {"rep": args.rep, "n": len(images), "decoders": decoders, "ensembles": ensembles}
    if args.oracles:
        train_shard = str(Path(args.data) / "train-0000.tar.gz")
        train = torch.stack([it.image for it in iter_images([train_shard], size=64, fit="center", limit=5000)])
        result["oracles"] = {
            k: float(per_image_normalized_error(images, v, scale).mean()) for k, v in oracles(images, train).items()
        }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
