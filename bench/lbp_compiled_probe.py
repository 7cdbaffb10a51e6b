"""What a compiled LBP kernel would buy over the torch one: the evidence behind not shipping one.

The torch LBP makes about twenty passes over each pixel (eight comparisons and eight sums building
the slot index, two conversions, one scatter of packed moments); VLFeat's C loop makes one. This
probe writes VLFeat's loop in numba (one fused pass per pixel, images in parallel over the cores) and
times it beside the torch LBP and VLFeat's single-threaded loop on the same images, interleaved round
by round, as ``bench/representations.py``.
It checks the three agree first. numba is not a dependency of preimage (numba + llvmlite install
~200 MB), so the probe exits with a one-line message without it:

    pip install numba  # into a scratch environment
    python bench/lbp_compiled_probe.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from preimage.representations import rgb_to_gray, vlfeat
from preimage.representations.lbp import LBP_DIM, _lbp_voting_matrix, lbp_uniform, uniform_mapping

try:
    import numba
except ImportError:  # the probe's only optional import
    sys.exit("lbp_compiled_probe: numba is not installed — `pip install numba` into a scratch environment")


def axis_votes(n_pix: int, cell: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Each interior pixel's two cells and weights along one axis, ``(2, n_pix - 2)`` each (weight 0 on cell 0
    where it has fewer), and the number of cells: VLFeat's voting rule as the kernel's lookup table."""
    matrix = _lbp_voting_matrix(n_pix, cell)
    cells, weights = np.zeros((2, n_pix - 2), np.int64), np.zeros((2, n_pix - 2), np.float32)
    for p in range(n_pix - 2):
        for j, c in enumerate(np.flatnonzero(matrix[:, p])):
            cells[j, p], weights[j, p] = c, matrix[c, p]
    return cells, weights, matrix.shape[0]


@numba.njit(parallel=True)  # type: ignore[misc]
def _lbp_kernel(gray, table, y_cells, y_weights, x_cells, x_weights, out):  # type: ignore[no-untyped-def]
    """VLFeat's ``vl_lbp_process`` on ``(B, H, W)`` gray images into ``(B, 58, rows, cols)`` histograms."""
    n, h, w = gray.shape
    for b in numba.prange(n):
        g, hist = gray[b], out[b]
        hist[:] = 0.0
        for y in range(1, h - 1):
            cy0, cy1, wy0, wy1 = y_cells[0, y - 1], y_cells[1, y - 1], y_weights[0, y - 1], y_weights[1, y - 1]
            for x in range(1, w - 1):
                c = g[y, x]
                bits = (
                    (g[y, x + 1] > c)
                    | ((g[y + 1, x + 1] > c) << 1)
                    | ((g[y + 1, x] > c) << 2)
                    | ((g[y + 1, x - 1] > c) << 3)
                    | ((g[y, x - 1] > c) << 4)
                    | ((g[y - 1, x - 1] > c) << 5)
                    | ((g[y - 1, x] > c) << 6)
                    | ((g[y - 1, x + 1] > c) << 7)
                )
                k = table[bits]
                cx0, cx1, wx0, wx1 = x_cells[0, x - 1], x_cells[1, x - 1], x_weights[0, x - 1], x_weights[1, x - 1]
                hist[k, cy0, cx0] += wy0 * wx0
                hist[k, cy0, cx1] += wy0 * wx1
                hist[k, cy1, cx0] += wy1 * wx0
                hist[k, cy1, cx1] += wy1 * wx1
    return out


def compiled_lbp(images: torch.Tensor, cell: int = 16) -> torch.Tensor:
    """:func:`preimage.representations.lbp.lbp_uniform` through the numba kernel."""
    gray = rgb_to_gray(images)[:, 0].numpy()
    y_cells, y_weights, rows = axis_votes(gray.shape[1], cell)
    x_cells, x_weights, cols = axis_votes(gray.shape[2], cell)
    out = np.empty((len(gray), LBP_DIM, rows, cols), np.float32)
    hist = torch.from_numpy(_lbp_kernel(gray, uniform_mapping(), y_cells, y_weights, x_cells, x_weights, out))
    return torch.sqrt(hist) / (torch.sqrt(hist.sum(dim=1, keepdim=True)) + 1e-10)


def case(batch: int, size: int, repeats: int, stream: int = 8) -> dict[str, object]:
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 256, (batch, 3, size, size), generator=gen).float() / 255 for _ in range(stream)]
    gray = [g for b in batches for g in rgb_to_gray(b)[:, 0].numpy()]
    reference = torch.from_numpy(np.stack([vlfeat.vl_lbp(g) for g in gray[:batch]]))
    for got in (lbp_uniform(batches[0]), compiled_lbp(batches[0])):
        assert torch.allclose(got, reference, atol=1e-5), "an LBP disagrees with VLFeat"
    fns: dict[str, Callable[[], object]] = {
        "torch": lambda: [lbp_uniform(b) for b in batches],
        "compiled": lambda: [compiled_lbp(b) for b in batches],
        "vlfeat": lambda: [vlfeat.vl_lbp(g) for g in gray],
    }
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    n = batch * stream
    result: dict[str, object] = {"batch": batch, "size": size, "repeats": repeats}
    for name in ("torch", "compiled"):
        ratios = [v / t for t, v in zip(times[name], times["vlfeat"], strict=True)]
        result[f"{name}_img_s"] = round(n / statistics.median(times[name]), 1)
        result[f"{name}_speedup_vs_vlfeat"] = round(statistics.median(ratios), 3)
    result["vlfeat_img_s"] = round(n / statistics.median(times["vlfeat"]), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not vlfeat.available():
        sys.exit("lbp_compiled_probe: libvlfeat is not installed — `apt-get install libvlfeat1`")
    print(json.dumps([case(64, 64, args.repeats), case(16, 227, args.repeats)], indent=1))


if __name__ == "__main__":
    main()
