"""Grid artifacts of decoders: how strongly one spatial period stands out of their reconstructions' spectra.

    python bench/decoder_grid.py [--size 224] [--decoder WEIGHTS.safetensors ...] [--n 64]
                                 [--data ../shared/data/imagenette-224] [--seed 0]

A decoder whose expanding part doubles maps with stride-2 transposed convolutions can paint the grid of its
coarsest map where the code says little: the 224-px HOG decoder drew faint lines every 64/7 = 9.1 px across
flat skies (its 7x7 bottleneck). :func:`preimage.metrics.periodic_peaks` scores each frequency's power in
the high-passed row and column spectra against its neighbours'; a grid is a narrow peak (a ratio well above
1), a smooth image has none. Two image sets, both decoded by every decoder in the same run:

- ``smooth``: ``--n`` smooth random colour fields (3x3 random colours, bicubic to the input size, 8-bit):
  skies and walls, where a grid shows; nothing in them is periodic.
- ``photos``: the first ``--n`` val photos of ``--data`` (an imagenette-224-style shard folder), else the
  bundled sample photos.

Every shipped decoder for ``hog``, ``lbp`` and ``sift`` at ``--size`` is measured, plus each ``--decoder`` file
(its own representation and size), and, as the yardstick, the input images themselves downsampled to the
output size. Prints one JSON object: per decoder and set, the largest peak ratio, its
frequency (cycles per image) and period (px), and the three largest peaks. Frequencies 2 .. W/2 - 2 are scored
(each needs two neighbours): a period-2 checkerboard at Nyquist is not. No timing: nothing here depends on
the machine being quiet.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from preimage.data import iter_images
from preimage.data.images import resize, to_8bit
from preimage.inverters.decoders import Decoder, shipped_sizes
from preimage.metrics import periodic_peaks
from preimage.representations import create_representation


def smooth_fields(n: int, size: int, seed: int) -> torch.Tensor:
    """``n`` smooth colour fields ``(n, 3, size, size)``: 3x3 random colours, bicubic, 8-bit."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 3, 3, generator=g)
    return to_8bit(F.interpolate(low, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1))


def photos(data: str | None, n: int, size: int) -> torch.Tensor:
    spec = str(Path(data) / "val-*.tar.gz") if data else "samples:all"
    return torch.stack([it.image for _, it in zip(range(n), iter_images([spec], size=size), strict=False)])


def peaks(images: torch.Tensor) -> dict[str, object]:
    ratios = periodic_peaks(images)
    top = ratios.topk(3)
    width = images.shape[-1]
    k = int(top.indices[0])
    return {
        "max_peak": round(float(top.values[0]), 3),
        "cycles": k,
        "period_px": round(width / k, 2),
        "top3": [[int(i), round(float(v), 3)] for v, i in zip(top.values, top.indices, strict=True)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224, help="side of the images the representation sees (px)")
    parser.add_argument("--decoder", action="append", default=[], help="also measure these decoder weights")
    parser.add_argument("--n", type=int, default=64, help="images per set")
    parser.add_argument("--data", default=None, help="shard folder whose first --n val photos are the photo set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the smooth fields")
    args = parser.parse_args()
    decoders: dict[str, Decoder] = {
        f"{rep} {args.size}px (shipped)": Decoder.from_pretrained(rep, size=args.size)
        for rep in ("hog", "lbp", "sift")
        if args.size in shipped_sizes(rep)
    }
    decoders.update({path: Decoder.from_file(path) for path in args.decoder})
    sets: dict[int, dict[str, torch.Tensor]] = {}
    result: dict[str, object] = {"seed": args.seed, "photos": args.data or "samples:all"}
    for name, dec in decoders.items():
        size = dec.input_size
        if size not in sets:
            sets[size] = {"smooth": smooth_fields(args.n, size, args.seed), "photos": photos(args.data, args.n, size)}
            result[f"images at {size}px"] = {k: len(v) for k, v in sets[size].items()}
        rep = create_representation(dec.rep)
        row = {}
        for set_name, images in sets[size].items():
            with torch.no_grad():
                row[set_name] = peaks(dec(rep(images)))
        row["upsample"] = dec.upsample
        result[name] = row
    # the yardstick: the same images downsampled to each reconstruction size, which have no grid
    for size, out in sorted({(d.input_size, d.output_size) for d in decoders.values()}):
        result[f"inputs at {out}px (from {size}px)"] = {k: peaks(resize(v, out)) for k, v in sets[size].items()}
    # one line per decoder: the JSON stays readable with its lists of peaks
    print("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in result.items()) + "\n}")


if __name__ == "__main__":
    main()
