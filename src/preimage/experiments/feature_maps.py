"""Xia et al. (2016): per-filter textures, diverse styles by energy reallocation, and why Gram = style."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from preimage.data import iter_images, save_image
from preimage.experiments import Context, register_experiment, write_csv
from preimage.inverters.feature_maps import (
    CONV_LAYERS,
    INACTIVE,
    TEXTURE_MODELS,
    TEXTURE_PRESET,
    VGG_LAYERS,
    XIA_CONTENT_LAYER,
    XIA_CONTENT_WEIGHT,
    XIA_STYLE_LAYERS,
    XIA_STYLE_WEIGHT,
    Textures,
    filter_textures,
    gram_explain,
    restyle_direct,
    restyle_purposeful,
    restyle_random,
    texture_layers,
    texture_model,
)
from preimage.inverters.optimize import OptimizeConfig
from preimage.inverters.xia import XIA_INVERSION, XIA_RECIPES, XIA_STYLE, XiaConfig, as_recipe
from preimage.report.figures import (
    captioned_grid,
    colour_count,
    colourfulness,
    high_frequency_energy,
    labelled_rows,
    line_plot,
    structure_size,
)
from preimage.representations.cnn import LayerTap, create_cnn_representation

__all__ = ["CONV_LAYERS", "TEXTURE_MODELS", "VGG_LAYERS", "texture_layers", "texture_model"]


def load_one(spec: str, size: int = 64) -> torch.Tensor:
    """The first image of ``spec`` (a file or ``samples:NAME``) at ``size x size``, ``(3, S, S)``."""
    item = next(iter_images([spec], size=size, fit="center"))
    return item.image


def texture_config(quick: bool, seed: int, steps: int | None = None) -> OptimizeConfig:
    """:data:`TEXTURE_PRESET` (the one default of every feature-map entry point) with a seed and budget."""
    return replace(TEXTURE_PRESET, steps=steps or (30 if quick else TEXTURE_PRESET.steps), seed=seed)


def recipe_config(recipe: str, quick: bool, seed: int, steps: int | None = None) -> OptimizeConfig | XiaConfig:
    """The settings of ``recipe``: :func:`texture_config` or the official :data:`XIA_INVERSION` as ``xia`` or
    ``xia-literal`` runs it (whose ``max_steps`` only ``steps`` or ``quick`` lowers)."""
    if recipe in XIA_RECIPES:
        cap = steps or (30 if quick else XIA_INVERSION.max_steps)
        return replace(as_recipe(XIA_INVERSION, recipe), max_steps=cap, seed=seed)
    return texture_config(quick, seed, steps)


# what textures_by_layer.csv reports per layer, and plots: how fine (high-frequency energy) and how large
# (autocorrelation half-width) the structures are, and how colourful
TEXTURE_MEASURES = ("colour_count", "colourfulness", "high_freq_energy", "structure_size_px")


def texture_metrics(images: torch.Tensor) -> dict[str, float]:
    if len(images) == 0:
        return {name: math.nan for name in TEXTURE_MEASURES}
    return {
        "colour_count": float(np.mean([colour_count(im) for im in images])),
        "colourfulness": float(np.mean([colourfulness(im) for im in images])),
        "high_freq_energy": float(np.mean([high_frequency_energy(im) for im in images])),
        # the median, robust to a texture whose structures outgrow half the tile (capped there)
        "structure_size_px": float(np.median([structure_size(im) for im in images])),
    }


def save_atlas(tex: Textures, path: Path, columns: int = 8) -> Path:
    """The textures with a caption under each: the channel, and "inactive on this image" where it is."""
    captions = [f"ch {c}" if tex.active[i] else f"ch {c}: {INACTIVE}" for i, c in enumerate(tex.channels)]
    return captioned_grid(tex.images, captions, path, columns=columns, scale=3)


def _recipe_summary(tex: Textures) -> dict[str, float]:
    on = [i for i, a in enumerate(tex.active) if a][:8]
    return {
        "feature_error": float(np.mean([tex.feature_error[i] for i in on])) if on else math.nan,
        "image_std": float(np.mean([float(tex.images[i].std()) for i in on])) if on else math.nan,
        "steps": float(np.mean([tex.steps[i] for i in on])) if on else math.nan,
    }


def _recipe_rows(a: Textures, b: Textures) -> list[dict[str, Any]]:
    rows = []
    for t in (a, b):
        for i, c in enumerate(t.channels[: len(b.channels)]):
            std = float(t.images[i].std()) if t.active[i] else math.nan
            rows.append({"recipe": t.recipe, "channel": c, "status": t.status(i), "steps": t.steps[i],
                         "feature_error": t.feature_error[i], "image_std": std})  # fmt: skip
    return rows


def textures_across_layers(
    tap_spec: str,
    image: torch.Tensor,
    layers: Sequence[str],
    per_layer: int,
    out: Path,
    quick: bool,
    seed: int,
    weights: str = "default",
    recipe: str = "preimage",
    steps: int | None = None,
    sheets: list[torch.Tensor] | None = None,
) -> list[dict[str, Any]]:
    """Invert the ``per_layer`` most energetic filters of every layer; write the sheet, plots and CSVs.
    ``sheets``, when given, receives each layer's textures (``(per_layer, 3, H, W)``) for a composite figure.

    ``textures_by_layer.csv`` has one row per layer with the complexity measures of the active textures
    (``high_freq_energy``: mean spectral energy above a quarter of the Nyquist frequency, i.e. how fine;
    ``structure_size_px``: the median radius at which a texture's autocorrelation halves, i.e. how large;
    colours, colourfulness), the mean relative feature error and the number of inactive channels;
    ``textures_channels.csv`` one row per channel with its status.
    """
    model_name = tap_spec.split(":")[0]
    rows: list[torch.Tensor] = []
    labels: list[str] = []
    table: list[dict[str, Any]] = []
    per_channel: list[dict[str, Any]] = []
    cfg = recipe_config(recipe, quick, seed, steps)
    net = None
    for layer in layers:
        tap = create_cnn_representation(f"{model_name}:{layer}", weights=weights, model=net)
        net = tap.model
        tex = filter_textures(tap, image, None, cfg, recipe=recipe, k=per_layer)
        rows.append(tex.images)
        labels.append(layer)
        active = tex.images[[i for i, a in enumerate(tex.active) if a]]
        errors = [e for e, a in zip(tex.feature_error, tex.active, strict=True) if a]
        table.append(
            {
                "layer": layer,
                "channels": " ".join(map(str, tex.channels)),
                "inactive": sum(not a for a in tex.active),
                "feature_error": float(np.mean(errors)) if errors else math.nan,
                "image_std": float(active.flatten(1).std(1).mean()) if len(active) else math.nan,
                **texture_metrics(active),
            }
        )
        per_channel += [{"layer": layer, **r} for r in tex.rows()]
    labelled_rows(rows, labels, out / "textures_by_layer.png")
    if sheets is not None:
        sheets.extend(rows)
    write_csv(out / "textures_by_layer.csv", table)
    write_csv(out / "textures_channels.csv", per_channel)
    for metric in TEXTURE_MEASURES:
        line_plot(
            [r["layer"] for r in table],
            {metric: [r[metric] for r in table]},
            out / f"textures_{metric}.png",
            metric,
            "filter textures by layer",
        )
    return table


@register_experiment(
    "textures",
    "Xia et al.: the texture each filter extracts, and how it changes with depth (vgg19_64, relu1_1..relu5_1)",
)
def textures(ctx: Context) -> dict[str, Any]:
    """Per-layer textures. On the CLI defaults (``--model alexnet64 --weights default``) the network is
    :func:`texture_model`: ``vgg19_64`` when its weights are in the zoo, else ``alexnet64``.
    ``options``: image, layer, channels, layers, recipe (``preimage``, ``xia`` or ``xia-literal``), steps."""
    model = texture_model() if (ctx.model, ctx.weights) == ("alexnet64", "default") else ctx.model
    image = load_one(ctx.options.get("image", "samples:chelsea"))
    layers = ctx.options.get("layers", texture_layers(model))
    layer = ctx.options.get("layer", layers[1])
    recipe = ctx.options.get("recipe", "preimage")
    steps = ctx.options.get("steps")
    channels = ctx.options.get("channels")  # None: the most energetic
    tap = create_cnn_representation(f"{model}:{layer}", weights=ctx.weights)
    cfg = recipe_config(recipe, ctx.quick, ctx.seed, steps)
    tex = filter_textures(tap, image, channels, cfg, recipe=recipe, k=4 if ctx.quick else 16)
    save_atlas(tex, ctx.path(f"atlas_{layer}.png"))
    for c, t, a in zip(tex.channels, tex.images, tex.active, strict=True):
        if a:
            save_image(t, ctx.path(f"{layer}_filter{c:03d}.png"))
    # the official recipe beside the default one: every layer's sheet, and the same channels of the atlas layer
    other = "xia" if recipe == "preimage" else "preimage"
    sheets: dict[str, list[torch.Tensor]] = {recipe: [], other: []}
    ctx.path(other).mkdir(exist_ok=True)
    tables = {
        r: textures_across_layers(
            f"{model}:{layer}",
            image,
            layers,
            3 if ctx.quick else 8,
            ctx.out if r == recipe else ctx.path(r),
            ctx.quick,
            ctx.seed,
            ctx.weights,
            r,
            steps,
            sheets[r],
        )
        for r in (recipe, other)
    }
    table = tables[recipe]
    side_by_side = [
        torch.cat([a, torch.ones_like(a[:1]), b]) for a, b in zip(sheets[recipe], sheets[other], strict=True)
    ]
    labelled_rows(side_by_side, layers, ctx.path(f"textures_by_layer_{recipe}_{other}.png"))
    hfe = [r["high_freq_energy"] for r in table]
    sizes = [r["structure_size_px"] for r in table]
    first, last = table[0], table[-1]
    cmp_cfg = recipe_config(other, ctx.quick, ctx.seed, steps)
    cmp = filter_textures(tap, image, tex.channels[:8], cmp_cfg, recipe=other)
    save_atlas(cmp, ctx.path(f"atlas_{layer}_{other}.png"))
    write_csv(ctx.path(f"atlas_{layer}_recipes.csv"), _recipe_rows(tex, cmp))
    return {
        "model": model,
        "recipe": recipe,
        "recipes": {r.recipe: _recipe_summary(r) for r in (tex, cmp)},
        "atlas": f"atlas_{layer}.png",
        "inactive_in_atlas": [c for c, a in zip(tex.channels, tex.active, strict=True) if not a],
        "layers": table,
        f"layers_{other}": tables[other],
        "side_by_side": f"textures_by_layer_{recipe}_{other}.png ({recipe} left, a blank tile, {other} right)",
        "claim_more_colours_higher_up": last["colour_count"] > first["colour_count"],
        "claim_more_structure_higher_up": last["high_freq_energy"] > first["high_freq_energy"],
        "high_freq_energy_by_layer": dict(zip(layers, hfe, strict=True)),
        # receptive fields grow with depth, and so should the structures a filter's texture repeats
        "claim_larger_structures_higher_up": all(b > a for a, b in itertools.pairwise(sizes)),
        "structure_size_px_by_layer": dict(zip(layers, sizes, strict=True)),
    }


@register_experiment("restyle", "Xia et al.: diverse styles from random and purposeful energy reallocation")
def restyle(ctx: Context) -> dict[str, Any]:
    """``options``: content, style, n, layer, mode (random, purposeful, purposeful-direct, both, all),
    steps, rates (dirichlet or xia), recipe (preimage, xia or xia-literal). On a VGG the purposeful optimisation
    uses the official layers (content relu2_2 x10, style sums at relu1_1 .. relu4_1 x1)."""
    content = load_one(ctx.options.get("content", "samples:chelsea"))
    style = load_one(ctx.options.get("style", "samples:coffee"))
    n = ctx.options.get("n", 2 if ctx.quick else 6)
    vgg = texture_layers(ctx.model) == VGG_LAYERS
    layer = ctx.options.get("layer", "relu3_1" if vgg else "conv3")
    mode = ctx.options.get("mode", "both")
    recipe = ctx.options.get("recipe", "preimage")
    rates = ctx.options.get("rates", "dirichlet")
    cfg = recipe_config(recipe, ctx.quick, ctx.seed, ctx.options.get("steps"))
    summary: dict[str, Any] = {"layer": layer, "recipe": recipe}
    rows, labels = [torch.stack([content, style])], ["content, style"]
    tap = create_cnn_representation(f"{ctx.model}:{layer}", weights=ctx.weights)
    if mode in ("random", "both", "all"):
        seeds = [ctx.seed + i for i in range(n)]
        out = restyle_random(tap, content, seeds, cfg, rates=rates, recipe=recipe)
        for s, im in zip(seeds, out, strict=True):
            save_image(im, ctx.path(f"random_seed{s}.png"))
        rows.append(out)
        labels.append(f"random {layer}")
        summary["random"] = [f"random_seed{s}.png" for s in seeds]
        summary["rates"] = rates
    if mode in ("purposeful-direct", "all"):
        out = restyle_direct(tap, content, style, cfg, recipe=recipe)
        save_image(out[0], ctx.path("purposeful_direct.png"))
        rows.append(out)
        labels.append("direct")
        summary["purposeful_direct"] = "purposeful_direct.png"
    if mode in ("purposeful", "both", "all"):
        if vgg:  # the official layers and weights (vis_style.py)
            content_layer, style_layers = XIA_CONTENT_LAYER, list(XIA_STYLE_LAYERS)
            cw, sw = XIA_CONTENT_WEIGHT, XIA_STYLE_WEIGHT
        else:  # alexnet64: content at the layer, style energies at every other conv layer
            content_layer, style_layers = layer, [x for x in CONV_LAYERS if x != layer]
            cw, sw = 1.0, 3.0
        pcfg: OptimizeConfig | XiaConfig = cfg
        if isinstance(cfg, XiaConfig):  # the style script's weight decay, 5e-3
            pcfg = replace(XIA_STYLE, max_steps=cfg.max_steps, seed=cfg.seed)
        out = restyle_purposeful(
            tap, content, style, content_layer, style_layers, sw, config=pcfg, content_weight=cw, recipe=recipe
        )
        save_image(out[0], ctx.path("purposeful.png"))
        rows.append(out)
        labels.append("purposeful")
        summary["purposeful"] = "purposeful.png"
        summary["content_layer"], summary["style_layers"] = content_layer, style_layers
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
