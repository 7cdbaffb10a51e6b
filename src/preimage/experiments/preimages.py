"""Beyond the papers: the mean pre-image, a sharp one and several sampled ones per code.

``preimages``: for HOG at the paper's protocol (features of the 224-px photo, 64-px reconstructions) and
alexnet64 conv5 and fc8, each photo beside the MSE decoder's mean, the sharp (DeePSiM) decoder's
reconstruction and ``K`` sampled pre-images (:func:`~preimage.inverters.samples.sample_preimages`). The
samples all match the photo's code, so what differs between them is what the code leaves open; the summary
splits their pairwise differences into three orthogonal parts: global colour (each channel's mean), coarse
layout (the 4x4 box thumbnail less the mean) and detail (the rest).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.experiments import Context, register_experiment, write_csv
from preimage.experiments.common import limit, load_images, rep_for, sharp_inverter, steps, test_sets
from preimage.inverters import create_inverter
from preimage.inverters.samples import relative_feature_error, sample_preimages
from preimage.metrics import edge_energy_ratio, mean_pairwise_distance, per_image_normalized_error
from preimage.report.figures import labelled_rows

# (representation, the side of the photo it sees); reconstructions are 64 px
PREIMAGE_REPS = (("hog", 224), ("alexnet64:conv5", 64), ("alexnet64:fc8", 64))
OUTPUT_SIZE = 64
SHOWN = 3
LAYOUT_SIDE = 4


def variation_parts(samples: torch.Tensor) -> dict[str, float]:
    """What differs between samples of one code: mean absolute difference over all sample pairs, and the share
    of the squared difference in global colour, coarse layout (a ``4x4`` thumbnail) and detail.

    The three parts are orthogonal projections of each pairwise difference (the per-channel mean, the box
    thumbnail less it, and the rest), so the shares sum to 1.

    Shape:
        - ``samples``: :math:`(B, K, 3, S, S)`, ``K >= 2``, ``S`` a multiple of 4.
    """
    if samples.dim() != 5 or samples.shape[1] < 2:
        raise PreimageError(f"variation_parts needs (B, K>=2, 3, S, S) samples, got {tuple(samples.shape)}")
    pairs = list(itertools.combinations(range(samples.shape[1]), 2))
    diff = torch.stack([samples[:, i] - samples[:, j] for i, j in pairs], 1).flatten(0, 1).float()
    colour = diff.mean((2, 3), keepdim=True).expand_as(diff)
    side = diff.shape[-1]
    if side % LAYOUT_SIDE:
        raise PreimageError(f"variation_parts needs a side divisible by {LAYOUT_SIDE}, got {side}")
    # box thumbnail upsampled by repetition (not bilinearly): a projection, so the three parts are orthogonal
    thumb = torch.nn.functional.adaptive_avg_pool2d(diff, LAYOUT_SIDE)
    layout = thumb.repeat_interleave(side // LAYOUT_SIDE, -1).repeat_interleave(side // LAYOUT_SIDE, -2) - colour
    detail = diff - colour - layout
    total = float(diff.pow(2).sum()) or 1.0
    return {
        "mean_abs_difference": float(diff.abs().mean()),
        "share_colour": float(colour.pow(2).sum()) / total,
        "share_layout": float(layout.pow(2).sum()) / total,
        "share_detail": float(detail.pow(2).sum()) / total,
    }


def _one_rep(name: str, input_size: int, spec: str, ctx: Context) -> tuple[dict[str, Any], list[torch.Tensor]]:
    rep = rep_for(name, ctx)
    images = load_images(spec, limit(ctx, 16, quick=2), size=input_size)
    mean_inverter = create_inverter("decoder", rep, input_size=input_size, output_size=OUTPUT_SIZE)
    codes = mean_inverter.encode(images)
    with torch.no_grad():
        mean = mean_inverter(codes).clamp(0, 1)
    k = int(ctx.options.get("samples") or 4)
    samples, errors = sample_preimages(rep, mean_inverter, images, k, ctx.seed, steps(ctx, 100))
    small = resize(samples.flatten(0, 1), OUTPUT_SIZE).view(len(images), k, 3, OUTPUT_SIZE, OUTPUT_SIZE)
    target = resize(images, OUTPUT_SIZE)
    spread = mean_pairwise_distance(target)
    sample_errors = torch.tensor([errors[f"sample{j}"] for j in range(k)])  # (K, B)
    row: dict[str, Any] = {
        "rep": name,
        "input_size": input_size,
        "n": len(images),
        "samples": k,
        "feature_error_mean": sum(errors["mean"]) / len(images),
        "feature_error_samples": float(sample_errors.mean()),
        "feature_error_samples_worst": float(sample_errors.max()),
        "error_mean": float(per_image_normalized_error(target, mean).mean()),
        # on the photos' own spread: the repeated targets' spread would count the zero distances between copies
        "error_samples": float(
            per_image_normalized_error(target.repeat_interleave(k, 0), small.flatten(0, 1), scale=spread).mean()
        ),
        "edge_ratio_mean": edge_energy_ratio(images, mean),
        "edge_ratio_samples": edge_energy_ratio(images.repeat_interleave(k, 0), small.flatten(0, 1)),
        **variation_parts(samples),
    }
    sharp = sharp_inverter(rep, input_size, OUTPUT_SIZE)
    if isinstance(sharp, str):
        row["sharp"] = sharp
        sharp_images = torch.ones_like(mean)
    else:
        with torch.no_grad():
            sharp_images = sharp(codes).clamp(0, 1)
        row["error_sharp"] = float(per_image_normalized_error(target, sharp_images).mean())
        row["edge_ratio_sharp"] = edge_energy_ratio(images, sharp_images)
        row["feature_error_sharp"] = float(relative_feature_error(rep, resize(sharp_images, input_size), codes).mean())
    shown = [
        torch.cat([target[i : i + 1], mean[i : i + 1], sharp_images[i : i + 1], small[i]])
        for i in range(min(SHOWN, len(images)))
    ]
    return row, shown


@register_experiment("preimages", "photo, MSE mean, sharp decoder and 4 sampled pre-images: HOG, conv5, fc8")
def preimages(ctx: Context) -> dict[str, Any]:
    """Every test set's rows; the figure shows the first set's photos: photo, MSE mean, sharp (white where none
    is shipped), then the samples."""
    rows: list[dict[str, Any]] = []
    grid_rows: list[torch.Tensor] = []
    labels: list[str] = []
    for set_index, (set_name, spec) in enumerate(test_sets(ctx).items()):
        for name, input_size in PREIMAGE_REPS:
            row, shown = _one_rep(name, input_size, spec, ctx)
            rows.append({"set": set_name, **row})
            if set_index == 0:
                grid_rows += shown
                labels += [f"{name} ({input_size}px)"] + [""] * (len(shown) - 1)
    write_csv(ctx.path("preimages.csv"), rows)
    fig = labelled_rows(grid_rows, labels, ctx.path("preimages.png"))
    columns = "photo | MSE mean | sharp | " + " | ".join(f"sample {j}" for j in range(rows[0]["samples"]))
    return {"rows": rows, "figure": str(fig), "columns": columns}
