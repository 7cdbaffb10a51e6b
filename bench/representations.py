"""Images/s of the torch HOG and LBP against single-image loops over VLFeat (ctypes) and skimage.

All timings are taken in one run, side by side, on the same images; the JSON
gives the ratios. ``torch`` uses every core torch is allowed (``--threads``);
VLFeat and skimage are single-threaded loops, as a user would call them.

    python bench/representations.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import torch
from skimage.feature import hog as skimage_hog

from preimage.representations import rgb_to_gray, vlfeat
from preimage.representations.hog import hog_uoctti
from preimage.representations.lbp import lbp_uniform


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (caches, allocator, lazy init)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_case(batch: int, size: int, repeats: int) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, size, size, generator=gen)
    gray = rgb_to_gray(images)[:, 0].numpy()
    res: dict[str, object] = {"batch": batch, "size": size}
    with torch.inference_mode():
        t = best_time(lambda: hog_uoctti(images), repeats)
        res["torch_hog_img_s"] = batch / t
        t = best_time(lambda: lbp_uniform(images), repeats)
        res["torch_lbp_img_s"] = batch / t
    t = best_time(lambda: [skimage_hog(g, 9, (8, 8), (2, 2), block_norm="L2-Hys") for g in gray], repeats)
    res["skimage_hog_img_s"] = batch / t
    res["hog_speedup_vs_skimage"] = res["torch_hog_img_s"] / res["skimage_hog_img_s"]  # type: ignore[operator]
    if vlfeat.available():
        t = best_time(lambda: [vlfeat.vl_hog(g) for g in gray], repeats)
        res["vlfeat_hog_img_s"] = batch / t
        t = best_time(lambda: [vlfeat.vl_lbp(g) for g in gray], repeats)
        res["vlfeat_lbp_img_s"] = batch / t
        res["hog_speedup_vs_vlfeat"] = res["torch_hog_img_s"] / res["vlfeat_hog_img_s"]  # type: ignore[operator]
        res["lbp_speedup_vs_vlfeat"] = res["torch_lbp_img_s"] / res["vlfeat_lbp_img_s"]  # type: ignore[operator]
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [bench_case(64, 64, args.repeats), bench_case(16, 227, args.repeats)]
    print(
        json.dumps(
            {
                "bench": "representations",
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "vlfeat": vlfeat.find_libvl(),
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
