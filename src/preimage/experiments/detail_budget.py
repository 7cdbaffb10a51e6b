"""How much photo-like detail fits in an error budget: the perception-distortion trade-off of one code.

A decoder trained with pixel MSE outputs ``m = E[x | code]``. Detail ``d`` added on top of it, any function of
the code and of independent noise, is uncorrelated with the photo's own deviation ``x - m``, so the squared
error grows by exactly the detail's energy: ``E||x - m - d||^2 = E||x - m||^2 + E||d||^2``. A reconstruction
as detailed as a photo therefore pays for its sharpness in pixel error (Blau & Michaeli, "The
Perception-Distortion Tradeoff", CVPR 2018: one distributed like the photos has twice the mean's MSE).

``detail-budget`` measures that price on real photos. To each MSE reconstruction it adds ``a`` times another
test photo's residual (that photo minus its own MSE reconstruction: detail with the photos' own statistics,
independent of this photo) and traces the normalised error against the edge-energy ratio as ``a`` grows. At
the sharp decoders' error budget (the MSE decoder's error + :data:`ERROR_BUDGET`) it reports the edge ratio
reached, and a bound for detail with the residuals' statistics placed anywhere: mean |gradient| obeys the
triangle inequality, so ``edge(m + a r) <= edge(m) + a edge(r)``. The shipped sharp decoder's point is listed
beside it: above the bound, its detail is finer-grained than the photos' (more gradient per unit of energy).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch

from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.experiments import Context, register_experiment, write_csv
from preimage.experiments.common import limit, load_images, rep_for, sharp_inverter, test_sets
from preimage.inverters import create_inverter
from preimage.metrics import edge_energy, mean_pairwise_distance, per_image_normalized_error
from preimage.report.figures import xy_plot

# (representation, the side of the photo it sees); reconstructions are 64 px
BUDGET_REPS = (("hog", 224), ("alexnet64:conv5", 64), ("alexnet64:fc6", 64), ("alexnet64:fc8", 64))
OUTPUT_SIZE = 64
# the pixel error a sharp decoder may add to its MSE decoder's (normalised error)
ERROR_BUDGET = 0.08
DETAIL_SCALES = tuple(i / 20 for i in range(31))  # a = 0, 0.05, ..., 1.5


def detail_frontier(
    target: torch.Tensor, mean: torch.Tensor, scales: tuple[float, ...] = DETAIL_SCALES
) -> list[dict[str, float]]:
    """Normalised error and edge-energy ratio of ``clamp(mean + a * r')`` for each ``a`` in ``scales``, where
    ``r'`` is the next image's residual (``target - mean``, rolled by one image), and the bound
    ``(edge(mean) + a * edge(r)) / edge(target)`` on the edge ratio of any detail with the residuals' statistics.

    Shape:
        - ``target``, ``mean``: :math:`(N, 3, S, S)` in ``[0, 1]``, ``N >= 2``.
    """
    if target.dim() != 4 or target.shape != mean.shape or len(target) < 2:
        raise PreimageError(
            f"detail_frontier needs photos and reconstructions of one shape (N >= 2, 3, S, S), got "
            f"{tuple(target.shape)} and {tuple(mean.shape)}"
        )
    target, mean = target.float(), mean.float()
    residual = target - mean
    other = residual.roll(1, 0)  # another photo's deviation: independent of this photo's
    scale = mean_pairwise_distance(target)
    photo_edge = float(edge_energy(target).mean())
    mean_edge, residual_edge = float(edge_energy(mean).mean()), float(edge_energy(residual).mean())
    rows = []
    for a in scales:
        sharpened = (mean + a * other).clamp(0, 1)
        rows.append(
            {
                "detail_scale": a,
                "normalized_error": float(per_image_normalized_error(target, sharpened, scale=scale).mean()),
                "edge_ratio": float(edge_energy(sharpened).mean()) / photo_edge,
                "edge_ratio_bound": (mean_edge + a * residual_edge) / photo_edge,
            }
        )
    return rows


def at_error(rows: list[dict[str, float]], error: float) -> dict[str, float]:
    """The point of a frontier (rows in increasing error) where the error reaches ``error``, linearly
    interpolated between the two rows around it; the last row when the whole frontier stays below it."""
    for lo, hi in itertools.pairwise(rows):
        if hi["normalized_error"] >= error:
            span = hi["normalized_error"] - lo["normalized_error"]
            t = (error - lo["normalized_error"]) / span if span > 0 else 0.0
            return {k: lo[k] + t * (hi[k] - lo[k]) for k in lo}
    return dict(rows[-1])


def _one_rep(
    name: str, input_size: int, images: torch.Tensor, ctx: Context
) -> tuple[dict[str, Any], list[dict[str, float]]]:
    rep = rep_for(name, ctx)
    inverter = create_inverter("decoder", rep, input_size=input_size, output_size=OUTPUT_SIZE)
    codes = inverter.encode(images)
    with torch.no_grad():
        mean = inverter(codes).clamp(0, 1)
    target = resize(images, OUTPUT_SIZE)
    frontier = detail_frontier(target, mean)
    mse_error = frontier[0]["normalized_error"]
    budget = at_error(frontier, mse_error + ERROR_BUDGET)
    full = next(r for r in frontier if r["detail_scale"] == 1.0)
    row: dict[str, Any] = {
        "rep": name,
        "input_size": input_size,
        "n": len(images),
        "error_mse": mse_error,
        "edge_ratio_mse": frontier[0]["edge_ratio"],
        "detail_scale_at_budget": budget["detail_scale"],
        "error_at_budget": budget["normalized_error"],
        "edge_ratio_at_budget": budget["edge_ratio"],
        "edge_ratio_bound_at_budget": budget["edge_ratio_bound"],
        "error_full_detail": full["normalized_error"],
        "edge_ratio_full_detail": full["edge_ratio"],
    }
    sharp = sharp_inverter(rep, input_size, OUTPUT_SIZE)
    if isinstance(sharp, str):
        row["sharp"] = sharp
    else:
        with torch.no_grad():
            sharp_images = sharp(codes).clamp(0, 1)
        scale = mean_pairwise_distance(target)
        row["error_sharp"] = float(per_image_normalized_error(target, sharp_images, scale=scale).mean())
        row["edge_ratio_sharp"] = float(edge_energy(sharp_images).mean() / edge_energy(target).mean())
    return row, frontier


@register_experiment("detail-budget", "how much photo-like detail fits in the sharp decoders' error budget")
def detail_budget(ctx: Context) -> dict[str, Any]:
    """Per test set and representation: the frontier's CSV, its point at the budget, the sharp decoder's
    point, and one plot per set (edge ratio against error)."""
    rows: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    figures: list[str] = []
    for set_index, (set_name, spec) in enumerate(test_sets(ctx).items()):
        lines: dict[str, tuple[list[float], list[float]]] = {}
        sharp_points: dict[str, tuple[float, float]] = {}
        budget_points: dict[str, tuple[float, float]] = {}
        loaded: dict[int, torch.Tensor] = {}
        for name, input_size in BUDGET_REPS:
            if input_size not in loaded:
                loaded[input_size] = load_images(spec, limit(ctx, 1000), size=input_size)
            images = loaded[input_size]
            row, frontier = _one_rep(name, input_size, images, ctx)
            rows.append({"set": set_name, **row})
            curves += [{"set": set_name, "rep": name, **r} for r in frontier]
            lines[name] = ([r["normalized_error"] for r in frontier], [r["edge_ratio"] for r in frontier])
            budget_points[name] = (row["error_at_budget"], row["edge_ratio_at_budget"])
            if "error_sharp" in row:
                sharp_points[name] = (row["error_sharp"], row["edge_ratio_sharp"])
        plot = xy_plot(
            lines,
            ctx.path(f"frontier_{set_index}.png"),
            "normalised error",
            "edge-energy ratio",
            f"MSE mean + a x another photo's residual, {set_name}",
            marks={"sharp decoder": sharp_points, f"at MSE + {ERROR_BUDGET}": budget_points},
        )
        figures.append(str(plot))
    write_csv(ctx.path("budget.csv"), rows)
    write_csv(ctx.path("frontier.csv"), curves)
    return {"error_budget": ERROR_BUDGET, "rows": rows, "figures": figures}
