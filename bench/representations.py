"""Images/s of the torch HOG and LBP against single-image loops over VLFeat (ctypes) and skimage.

All timings are taken in one run, interleaved round by round on the same images;
the JSON gives median images/s and the median (and range) of the per-round ratios.
Each round streams ``--stream`` batches back to back through every candidate (a
data set is processed that way): a lone 5 ms call mostly measures the thread
pool waking up after the single-threaded loops and caches refilling.
``torch`` uses every core torch is allowed (``--threads``);
VLFeat and skimage are single-threaded loops, as a user would call them.

    python bench/representations.py [--repeats 5] [--threads N] [--busy K]

``--busy K`` repeats the 64x64 case with K cores held by spinning processes, twice: with torch on every
core (what a fixed thread count does) and with the thread count the CLI picks by default
(:func:`preimage.runtime.default_threads`, which leaves busy cores out), and prints the ratios to
VLFeat's single-threaded loop for both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from skimage.feature import hog as skimage_hog

from preimage.representations import rgb_to_gray, vlfeat
from preimage.representations.hog import hog_uoctti
from preimage.representations.lbp import lbp_uniform
from preimage.runtime import available_cores, default_threads


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time every function once per round, rounds repeated: on a shared VM, background load then hits all
    candidates alike, and per-round ratios stay meaningful."""
    for fn in fns.values():
        fn()  # warm-up (caches, allocator, lazy init)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def bench_case(batch: int, size: int, repeats: int, stream: int = 8) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    batches = [torch.rand(batch, 3, size, size, generator=gen) for _ in range(stream)]
    gray = [g for b in batches for g in rgb_to_gray(b)[:, 0].numpy()]

    def torch_hog() -> object:
        with torch.inference_mode():
            return [hog_uoctti(b) for b in batches]

    def torch_lbp() -> object:
        with torch.inference_mode():
            return [lbp_uniform(b) for b in batches]

    fns: dict[str, Callable[[], object]] = {
        "torch_hog": torch_hog,
        "torch_lbp": torch_lbp,
        "skimage_hog": lambda: [skimage_hog(g, 9, (8, 8), (2, 2), block_norm="L2-Hys") for g in gray],
    }
    if vlfeat.available():
        fns["vlfeat_hog"] = lambda: [vlfeat.vl_hog(g) for g in gray]
        fns["vlfeat_lbp"] = lambda: [vlfeat.vl_lbp(g) for g in gray]
    times = interleaved(fns, repeats)
    res: dict[str, object] = {"batch": batch, "size": size, "batches_per_round": stream, "repeats": repeats}
    for name, ts in times.items():
        res[f"{name}_img_s"] = batch * stream / statistics.median(ts)
    for ref in ("skimage_hog", "vlfeat_hog", "vlfeat_lbp"):
        if ref not in times:
            continue
        ours = "torch_hog" if ref.endswith("hog") else "torch_lbp"
        ratios = [r / o for o, r in zip(times[ours], times[ref], strict=True)]
        res[f"{ours.split('_')[1]}_speedup_vs_{ref.split('_')[0]}"] = statistics.median(ratios)
        res[f"{ours.split('_')[1]}_speedup_vs_{ref.split('_')[0]}_range"] = [min(ratios), max(ratios)]
    return res


def busy_run(busy: int, repeats: int, stream: int) -> dict[str, object]:
    """The 64x64 case with ``busy`` cores held by spinning processes: all-core torch vs the default threads."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(0.5)  # let the scheduler see them
        picked = default_threads()
        out: dict[str, object] = {"busy_processes": busy, "threads_picked_by_default": picked}
        for label, n in (("torch_on_all_cores", available_cores()), ("torch_on_default_threads", picked)):
            torch.set_num_threads(n)
            case = bench_case(64, 64, repeats, stream)
            out[label] = {
                "torch_threads": n,
                **{k: v for k, v in case.items() if k.endswith(("img_s", "_speedup_vs_vlfeat", "_speedup_vs_skimage"))},
            }
        return out
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the CLI's default)")
    parser.add_argument("--stream", type=int, default=8, help="batches per candidate per round")
    parser.add_argument("--busy", type=int, default=0, help="cores to hold with spinning processes (0: quiet)")
    args = parser.parse_args()
    if args.busy:
        result = {"bench": "representations-busy", "cpu_count": os.cpu_count(), "vlfeat": vlfeat.find_libvl()}
        print(json.dumps({**result, **busy_run(args.busy, args.repeats, args.stream)}, indent=2))
        return
    torch.set_num_threads(args.threads or default_threads())
    cases = [bench_case(64, 64, args.repeats, args.stream), bench_case(16, 227, args.repeats, args.stream)]
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
