"""Seconds per image of optimisation inversion at batch 1 and batch 16 (64x64, fixed steps), one run.

    python bench/optimize.py [--steps 50] [--threads N]

Prints JSON with, for HOG, alexnet64:conv3 and alexnet64:fc6, the time per
image at both batch sizes and the speed-up of batching (batch 1 s/img divided
by batch 16 s/img).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from preimage.data import iter_images
from preimage.inverters.optimize import invert_optimize
from preimage.models import default_weights_path
from preimage.representations import create_representation


def seconds_per_image(rep_name: str, images: torch.Tensor, batch: int, steps: int) -> float:
    weights = "default" if default_weights_path("alexnet64") else None
    rep = create_representation(rep_name, **({"weights": weights} if ":" in rep_name else {}))
    x = images[:batch]
    with torch.no_grad():
        target = rep(x)
    invert_optimize(rep, target, 64, steps=2, tol=0.0, progress=False)  # warm-up
    t0 = time.perf_counter()
    invert_optimize(rep, target, 64, steps=steps, tol=0.0, progress=False)
    return (time.perf_counter() - t0) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pool = torch.stack([it.image for it in iter_images(["samples:all"], size=64)])
    images = pool.repeat((16 + len(pool) - 1) // len(pool), 1, 1, 1)[:16]
    results = []
    for rep in ("hog", "alexnet64:conv3", "alexnet64:fc6"):
        one = seconds_per_image(rep, images, 1, args.steps)
        sixteen = seconds_per_image(rep, images, 16, args.steps)
        results.append(
            {
                "rep": rep,
                "steps": args.steps,
                "s_per_image_batch1": one,
                "s_per_image_batch16": sixteen,
                "batch16_speedup_per_image": one / sixteen,
            }
        )
    print(
        json.dumps(
            {
                "bench": "optimize",
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "image_size": 64,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
