"""Decoder inversion vs optimisation inversion: per-image time and error on the same 64 images, one run.

    python bench/inversion_speed.py [--rep hog] [--steps 200,800] [--data ../shared/data/tiny-imagenet-200]
                                    [--decoder WEIGHTS.safetensors ...] [--size 224 [--output-size 64]]

``--size 224`` runs the paper's protocol: the representation sees 224-px images (with ``--data``
imagenette-224's val photos), the decoder predicts 64-px images, optimisation reconstructs at 224 px, and both
are scored at 64 px against the photo downsampled to it (bilinear, antialiased).

Optimisation is timed at each step budget in ``--steps``; 800 is the protocol
of Mahendran & Vedaldi's shallow-feature experiments (four stages of 200
iterations), the optimisation the CVPR 2016 paper compares its decoders with.
Beside every time the JSON gives the normalised reconstruction error on the
same images, so a speed-up is always read with the quality it buys. Two
regimes: throughput (all ``--n`` images in one batch, both inverters) and
single-image latency (one image per call, as a user inverting one photo, and
Mahendran & Vedaldi's code, run them).

The decoder is the shipped one when the zoo has it; otherwise a freshly
initialised decoder of the same architecture (speed does not depend on the
weights; the JSON says which). ``--decoder`` (repeatable) times other trained
decoders for the same representation beside it, in the same run, each with
its own speed-up and error (e.g. a cheaper ``--shuffle`` student against the
shipped decoder). The VM's speed drifts, so the batched comparison runs
``--repeats`` rounds per budget, each an optimisation run bracketed by decoder
timings, and reports the median of the per-round speed-ups with their range. Images: the first ``--n`` Tiny-ImageNet val
images with ``--data``, else the bundled sample photos, randomly flipped and shifted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from preimage import zoo
from preimage.data import iter_images, resize
from preimage.inverters.decoders import Decoder, DecoderArch
from preimage.inverters.optimize import invert_optimize
from preimage.metrics import mean_pairwise_distance, per_image_normalized_error
from preimage.representations import create_representation


def sample_photos(n: int, size: int = 64) -> torch.Tensor:
    pool = torch.stack([it.image for it in iter_images(["samples:all"], size=size)])
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(pool), (n,), generator=gen)
    # distinct images: the photos, randomly flipped and shifted
    return torch.stack(
        [
            torch.roll(pool[i], int(s) * size // 64, dims=-1).flip(-1) if s % 2 else pool[i]
            for i, s in zip(idx.tolist(), torch.randint(0, 16, (n,), generator=gen).tolist(), strict=True)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rep", default="hog")
    parser.add_argument("--steps", default="200,800", help="comma-separated optimisation step budgets")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--size", type=int, default=64, help="side of the images the representation sees (px)")
    parser.add_argument(
        "--output-size", type=int, default=None, help="side the reconstructions are scored at (default: the decoder's)"
    )
    parser.add_argument("--data", default=None, help="Tiny-ImageNet folder: use its first --n val images")
    parser.add_argument("--single", type=int, default=5, help="images optimised one at a time per budget")
    parser.add_argument("--decoder", action="append", default=[], help="also time these decoder weights")
    parser.add_argument(
        "--repeats", type=int, default=3, help="rounds per budget of (decoders, optimisation, decoders)"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    budgets = [int(s) for s in args.steps.split(",")]
    size = args.size
    if args.data:
        images = torch.stack([it.image for it in iter_images([f"{args.data}/val-*.tar.gz"], size=size, limit=args.n)])
    else:
        images = sample_photos(args.n, size)

    rep = create_representation(args.rep, **({"weights": "default"} if ":" in args.rep else {}))
    with torch.no_grad():
        codes = rep(images)
    shipped = zoo.lookup("decoder", args.rep, size) is not None
    out_size = args.output_size or min(size, 64)
    decoders = {
        "shipped" if shipped else "random init (speed only)": (
            Decoder.from_pretrained(args.rep, size=size)
            if shipped
            else Decoder(DecoderArch(args.rep, tuple(codes.shape[1:]), out_size, input_size=size)).eval()
        )
    }
    out_size = args.output_size or next(iter(decoders.values())).output_size
    target = resize(images, out_size)
    scale = mean_pairwise_distance(target)

    def error(recon: torch.Tensor) -> float:
        return float(per_image_normalized_error(target, resize(recon, out_size), scale).mean())

    for path in args.decoder:
        decoders[path] = Decoder.from_file(path)
        if decoders[path].rep != args.rep or decoders[path].code_shape != tuple(codes.shape[1:]):
            raise SystemExit(
                f"--decoder {path} inverts {decoders[path].rep} codes {decoders[path].code_shape}, "
                f"not {args.rep} {tuple(codes.shape[1:])} ({size}x{size} images)"
            )

    # the decoders as users run them (eval mode, no autograd: bf16 + channels-last on CPUs with native bf16);
    # the median of several passes, since one 30 ms call is at the mercy of the VM's scheduler; the passes
    # of the decoders interleave, so a slow spell of the VM hits all of them alike
    @torch.no_grad()
    def time_decoders() -> dict[str, float]:
        runs: dict[str, list[float]] = {name: [] for name in decoders}
        for _ in range(7):
            for name, decoder in decoders.items():
                t0 = time.perf_counter()
                decoder(codes)
                runs[name].append(time.perf_counter() - t0)
        return {name: statistics.median(r) / args.n for name, r in runs.items()}

    with torch.no_grad():
        precision = {
            name: "bf16+channels_last" if decoder._fast(codes) else "fp32" for name, decoder in decoders.items()
        }
        decoded = {name: decoder(codes) for name, decoder in decoders.items()}
    per_dec = time_decoders()
    result: dict = {
        "bench": "inversion_speed",
        "rep": args.rep,
        "images": f"{args.data} val, first {args.n}" if args.data else f"{args.n} sample photos",
        "size": size,
        "output_size": out_size,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "decoders": [
            {
                "weights": name,
                "config": {k: v for k, v in decoder.config().items() if k not in ("rep", "code_shape")},
                "precision": precision[name],
                "images_per_s": 1.0 / per_dec[name],
                "s_per_image": per_dec[name],
                "normalized_error": error(decoded[name]),
            }
            for name, decoder in decoders.items()
        ],
        "optimize": [],
    }
    # optimisation as `preimage evaluate --method optimize` runs it: all images in one batch, every step taken;
    # a few untimed steps first, so no budget pays for the first call's one-off set-up
    # The VM's speed drifts over minutes, so each round brackets one optimisation run with decoder timings
    # just before and after it; the speed-up is the median over rounds of each round's ratio (with its range).
    invert_optimize(rep, codes, size, steps=3, tol=0.0, progress=False)
    for steps in budgets:
        ratios: dict[str, list[float]] = {name: [] for name in decoders}
        per_opts = []
        for _ in range(args.repeats):
            before = time_decoders()
            t0 = time.perf_counter()
            recon = invert_optimize(rep, codes, size, steps=steps, tol=0.0, progress=False)
            per_opt = (time.perf_counter() - t0) / args.n
            after = time_decoders()
            per_opts.append(per_opt)
            for name in decoders:
                ratios[name].append(per_opt / ((before[name] + after[name]) / 2))
        result["optimize"].append(
            {
                "steps": steps,
                "s_per_image": statistics.median(per_opts),
                "normalized_error": error(recon),
                "speedup_decoder_vs_optimize": {name: statistics.median(r) for name, r in ratios.items()},
                "speedup_range": {name: [min(r), max(r)] for name, r in ratios.items()},
            }
        )
    # one image at a time (the latency of inverting a single photo, as Mahendran & Vedaldi's code runs):
    # neither inverter can amortise its per-call work over a batch
    singles: dict[str, list[float]] = {name: [] for name in decoders}
    with torch.no_grad():
        for i in range(args.n):
            for name, decoder in decoders.items():
                t0 = time.perf_counter()
                decoder(codes[i : i + 1])
                singles[name].append(time.perf_counter() - t0)
    one_dec = {name: statistics.median(s) for name, s in singles.items()}
    single_opt = []
    for steps in budgets:
        per = []
        for i in range(args.single):
            t0 = time.perf_counter()
            invert_optimize(rep, codes[i : i + 1], size, steps=steps, tol=0.0, progress=False)
            per.append(time.perf_counter() - t0)
        one_opt = statistics.median(per)
        single_opt.append(
            {
                "steps": steps,
                "s": one_opt,
                "speedup_decoder_vs_optimize": {name: one_opt / d for name, d in one_dec.items()},
            }
        )
    result["single_image"] = {"decoder_s": one_dec, "optimize": single_opt}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
