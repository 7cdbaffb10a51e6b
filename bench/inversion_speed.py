"""Decoder inversion vs optimisation inversion: per-image time on the same 64 images, one run.

    python bench/inversion_speed.py [--rep hog] [--steps 200]

The decoder is the shipped one when the zoo has it; otherwise a freshly
initialised decoder of the same architecture (speed does not depend on the
weights; the JSON says which).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from preimage.data import iter_images
from preimage.inverters.decoders import Decoder, zoo_path
from preimage.inverters.optimize import invert_optimize
from preimage.representations import create_representation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rep", default="hog")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--n", type=int, default=64)
    args = parser.parse_args()
    pool = torch.stack([it.image for it in iter_images(["samples:all"], size=64)])
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(pool), (args.n,), generator=gen)
    # distinct images: the photos, randomly flipped and shifted
    images = torch.stack(
        [
            torch.roll(pool[i], int(s), dims=-1).flip(-1) if s % 2 else pool[i]
            for i, s in zip(idx.tolist(), torch.randint(0, 16, (args.n,), generator=gen).tolist(), strict=True)
        ]
    )
    rep = create_representation(args.rep, **({"weights": "default"} if ":" in args.rep else {}))
    with torch.no_grad():
        codes = rep(images)
    shipped = zoo_path(args.rep).is_file()
    decoder = Decoder.from_pretrained(args.rep) if shipped else Decoder(args.rep, tuple(codes.shape[1:])).eval()
    # the decoder as users run it (eval mode, no autograd: bf16 + channels-last on CPUs with native bf16);
    # the median of several passes, since one 30 ms call is at the mercy of the VM's scheduler
    with torch.no_grad():
        precision = "bf16+channels_last" if decoder._fast(codes) else "fp32"
        decoder(codes)
        runs = []
        for _ in range(7):
            t0 = time.perf_counter()
            decoder(codes)
            runs.append(time.perf_counter() - t0)
    dec_s = statistics.median(runs)
    # optimisation as `preimage evaluate --method optimize` runs it: all images in one batch, --steps steps
    t0 = time.perf_counter()
    invert_optimize(rep, codes, 64, steps=args.steps, tol=0.0, progress=False)
    opt_s = time.perf_counter() - t0
    per_dec, per_opt = dec_s / args.n, opt_s / args.n
    print(
        json.dumps(
            {
                "bench": "inversion_speed",
                "rep": args.rep,
                "n_images": args.n,
                "optimize_steps": args.steps,
                "decoder_weights": "shipped" if shipped else "random init (speed only)",
                "decoder_precision": precision,
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "decoder_images_per_s": 1.0 / per_dec,
                "decoder_s_per_image": per_dec,
                "optimize_s_per_image": per_opt,
                "speedup_decoder_vs_optimize": per_opt / per_dec,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
