"""Xia et al. (2016): per-filter textures, diverse styles by energy reallocation, and why Gram = style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from preimage.data import iter_images, save_image
from preimage.experiments import Context, register_experiment, write_csv
from preimage.inverters.feature_maps import filter_textures, gram_explain, restyle_purposeful, restyle_random
from preimage.inverters.optimize import OptimizeConfig
from preimage.report.figures import (
    colour_count,
    colourfulness,
    high_frequency_energy,
    labelled_rows,
    line_plot,
    save_grid,
)
from preimage.representations.cnn import CNN_OPTIMIZE_DEFAULTS, LayerTap, create_cnn_representation

CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def load_one(spec: str, size: int = 64) -> torch.Tensor:
    """The first image of ``spec`` (a file or ``samples:NAME``) at ``size x size``, ``(3, S, S)``."""
    item = next(iter_images([spec], size=size, fit="center"))
    return item.image


def texture_config(quick: bool, seed: int) -> OptimizeConfig:
    """Feature-map inversion settings for alexnet64-style ([0, 1], mean/std-normalised) networks.

    Xia et al.'s numbers (``XIA_PRESET``) are in 0-255 Caffe units; on a network
    that takes normalised [0, 1] images the same procedure needs the
    size-independent normalised loss, so textures use it (Adam, TV, jitter).
    """
    return replace(
        OptimizeConfig(),
        **CNN_OPTIMIZE_DEFAULTS,
        steps=30 if quick else 200,
        tol=0.0,
        seed=seed,
        progress=False,
    )


def texture_metrics(images: torch.Tensor) -> dict[str, float]:
    return {
        "colour_count": float(np.mean([colour_count(im) for im in images])),
        "colourfulness": float(np.mean([colourfulness(im) for im in images])),
        "high_freq_energy": float(np.mean([high_frequency_energy(im) for im in images])),
    }


def textures_across_layers(
    tap_spec: str,
    image: torch.Tensor,
    layers: Sequence[str],
    per_layer: int,
    out: Path,
    quick: bool,
    seed: int,
    weights: str = "default",
) -> list[dict[str, Any]]:
    """Invert ``per_layer`` filters of every layer; write the sheet, the plot and the CSV."""
    model_name = tap_spec.split(":")[0]
    rows: list[torch.Tensor] = []
    labels: list[str] = []
    table: list[dict[str, Any]] = []
    cfg = texture_config(quick, seed)
    net = None
    for layer in layers:
        tap = create_cnn_representation(f"{model_name}:{layer}", weights=weights, model=net)
        net = tap.model
        n_channels = tap.out_shape(tuple(image.shape[-2:]))[0]  # type: ignore[arg-type]
        channels = np.linspace(0, n_channels - 1, per_layer).round().astype(int).tolist()
        tex = filter_textures(tap, image, channels, cfg)
        rows.append(tex)
        labels.append(layer)
        table.append({"layer": layer, "channels": " ".join(map(str, channels)), **texture_metrics(tex)})
    labelled_rows(rows, labels, out / "textures_by_layer.png")
    write_csv(out / "textures_by_layer.csv", table)
    for metric in ("colour_count", "colourfulness", "high_freq_energy"):
        line_plot(
            [r["layer"] for r in table],
            {metric: [r[metric] for r in table]},
            out / f"textures_{metric}.png",
            metric,
            "filter textures by layer",
        )
    return table


@register_experiment("textures", "Xia et al.: the texture each filter extracts, and how it changes with depth")
def textures(ctx: Context) -> dict[str, Any]:
    image = load_one(ctx.options.get("image", "samples:chelsea"))
    layer = ctx.options.get("layer", "conv2")
    channels = ctx.options.get("channels") or (list(range(4)) if ctx.quick else list(range(16)))
    tap = create_cnn_representation(f"{ctx.model}:{layer}", weights=ctx.weights)
    tex = filter_textures(tap, image, channels, texture_config(ctx.quick, ctx.seed))
    save_grid(tex, ctx.path(f"atlas_{layer}.png"), columns=min(8, len(channels)), scale=2)
    for c, t in zip(channels, tex, strict=True):
        save_image(t, ctx.path(f"{layer}_filter{c:03d}.png"))
    layers = ctx.options.get("layers", CONV_LAYERS)
    table = textures_across_layers(
        f"{ctx.model}:{layer}",
        image,
        layers,
        3 if ctx.quick else 8,
        ctx.out,
        ctx.quick,
        ctx.seed,
        ctx.weights,
    )
    first, last = table[0], table[-1]
    return {
        "atlas": f"atlas_{layer}.png",
        "layers": table,
        "claim_more_colours_higher_up": last["colour_count"] > first["colour_count"],
        "claim_more_structure_higher_up": last["high_freq_energy"] > first["high_freq_energy"],
    }


@register_experiment("restyle", "Xia et al.: diverse styles from random and purposeful energy reallocation")
def restyle(ctx: Context) -> dict[str, Any]:
    content = load_one(ctx.options.get("content", "samples:chelsea"))
    style = load_one(ctx.options.get("style", "samples:coffee"))
    n = ctx.options.get("n", 2 if ctx.quick else 6)
    layer = ctx.options.get("layer", "conv3")
    mode = ctx.options.get("mode", "both")
    steps = ctx.options.get("steps", 30 if ctx.quick else 300)
    summary: dict[str, Any] = {"layer": layer}
    rows, labels = [torch.stack([content, style])], ["content, style"]
    if mode in ("random", "both"):
        tap = create_cnn_representation(f"{ctx.model}:{layer}", weights=ctx.weights)
        seeds = [ctx.seed + i for i in range(n)]
        out = restyle_random(tap, content, seeds, steps=steps, seed=ctx.seed, progress=False)
        for s, im in zip(seeds, out, strict=True):
            save_image(im, ctx.path(f"random_seed{s}.png"))
        rows.append(out)
        labels.append(f"random {layer}")
        summary["random"] = [f"random_seed{s}.png" for s in seeds]
    if mode in ("purposeful", "both"):
        tap = create_cnn_representation(f"{ctx.model}:{layer}", weights=ctx.weights)
        style_layers = [x for x in CONV_LAYERS if x != layer]
        out = restyle_purposeful(
            tap,
            content,
            style,
            layer,
            style_layers,
            style_weight=3.0,
            steps=steps,
            seed=ctx.seed,
            progress=False,
        )
        save_image(out[0], ctx.path("purposeful.png"))
        rows.append(out)
        labels.append("purposeful")
        summary["purposeful"] = "purposeful.png"
        summary["style_layers"] = style_layers
    labelled_rows(rows, labels, ctx.path("restyle_sheet.png"))
    summary["sheet"] = "restyle_sheet.png"
    return summary


@register_experiment("gram-explain", "why the Gram matrix is style: Gram vs channel energies vs random energies")
def gram_explain_experiment(ctx: Context) -> dict[str, Any]:
    style = load_one(ctx.options.get("style", "samples:coffee"))
    layers = ctx.options.get("layers", ["conv1", "conv2", "conv3"])
    tap: LayerTap = create_cnn_representation(f"{ctx.model}:{layers[0]}", weights=ctx.weights)
    res = gram_explain(
        tap,
        style,
        layers,
        n_random=2 if ctx.quick else 4,
        seed=ctx.seed,
        steps=30 if ctx.quick else 300,
        progress=False,
    )
    rows, labels, table = [style[None]], ["style"], []
    for name, imgs in res["images"].items():
        rows.append(imgs)
        labels.append(name)
        for i, im in enumerate(imgs):
            save_image(im, ctx.path(f"{name}_{i}.png"))
    for name, dists in res["gram_distance"].items():
        for i, d in enumerate(dists):
            table.append({"method": name, "index": i, "gram_distance": d})
    labelled_rows(rows, labels, ctx.path("gram_explain.png"))
    write_csv(ctx.path("gram_distance.csv"), table)
    s = res["summary"]
    return {
        "layers": layers,
        "mean_gram_distance": s,
        "energy_beats_random_energy": s["energy"] < s["random_energy"],
        "gram_beats_energy": s["gram"] <= s["energy"],
        "sheet": "gram_explain.png",
    }
