"""Dosovitskiy & Brox, the CNN: what each alexnet64 layer keeps (Figures 5-10 of the paper).

``layers``: normalised error per layer for the learned decoder, the linear
baseline, the autoencoder bound and optimisation, against oracles that need no
network (each photo's mean colour, its 2x2 and 4x4 thumbnails). ``perturb``: the same decoders fed
binarised, dropped-out and thinned codes. ``interpolate``: straight lines
between two images' codes. ``random-features``: codes drawn from the real
codes' per-dimension statistics. ``class-probs``: fc8 with only the top-5
classes versus everything but the top-5. ``colour``: decoders of recoloured photos' codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from preimage.data.images import rotate_hue
from preimage.experiments import Context, register_experiment, write_csv
from preimage.experiments.common import (
    ALEXNET_LAYERS,
    error_row,
    first_set,
    limit,
    load_images,
    reconstruct,
    rep_for,
    unavailable,
)
from preimage.inverters import codes as C
from preimage.inverters.decoders import Decoder
from preimage.metrics import mean_colour_correlation, thumbnail_oracle
from preimage.report.figures import labelled_rows, line_plot

SHOWN = 8
# the no-network references of the layers plot: each photo's own box-averaged thumbnail of this side
ORACLES = {"mean colour": 1, "2x2 thumbnail": 2, "4x4 thumbnail": 4}


def _layers(ctx: Context) -> list[str]:
    return list(ctx.options.get("layers") or ALEXNET_LAYERS)


def _decoded(rep: str, codes: torch.Tensor) -> torch.Tensor:
    dec = Decoder.from_pretrained(rep)
    with torch.no_grad():
        return torch.cat([dec(codes[i : i + 256]) for i in range(0, len(codes), 256)])


def _codes(rep: str, images: torch.Tensor, ctx: Context) -> torch.Tensor:
    tap = rep_for(rep, ctx)
    with torch.no_grad():
        return torch.cat([tap(images[i : i + 256]) for i in range(0, len(images), 256)])


@register_experiment("layers", "alexnet64 conv1..fc8, prob x {decoder, autoencoder, optimize}: error per layer")
def layers(ctx: Context) -> dict[str, Any]:
    set_name, spec = first_set(ctx)
    images = load_images(spec, limit(ctx, 1000))
    opt_n = min(len(images), limit(ctx, 100))
    rows: list[dict[str, Any]] = []
    curves: dict[str, list[float]] = {"decoder": [], "linear": [], "autoencoder": [], "optimize": []}
    grid_rows, labels = [images[:SHOWN]], ["input"]
    names = _layers(ctx)
    # reconstructions that need no network: what a layer that keeps only colour and rough layout can reach
    oracles = {name: thumbnail_oracle(images, side) for name, side in ORACLES.items()}
    for name, recon in oracles.items():
        rows.append({"layer": "-", "method": f"oracle: {name}", **error_row(images, recon, ctx.seed)})
    references = {r["method"]: r["normalized_error"] for r in rows}
    for layer in names:
        rep = f"{ctx.model}:{layer}"
        for method in curves:
            reason = unavailable(rep, method)
            if reason:
                rows.append({"layer": layer, "method": method, "note": reason})
                curves[method].append(float("nan"))
                continue
            subset = images[:opt_n] if method == "optimize" else images
            recon = reconstruct(rep, method, subset, ctx)
            row = {"layer": layer, "method": method, **error_row(subset, recon, ctx.seed)}
            rows.append(row)
            curves[method].append(row["normalized_error"])
            if method != "optimize" and len(images) > opt_n:
                rows.append(
                    {
                        "layer": layer,
                        "method": f"{method} (first {opt_n})",
                        **error_row(images[:opt_n], recon[:opt_n], ctx.seed),
                    }
                )
            if method == "decoder":
                grid_rows.append(recon[:SHOWN])
                labels.append(layer)
    write_csv(ctx.path("errors.csv"), rows)
    plot = line_plot(
        names, curves, ctx.path("error_by_layer.png"), "normalised error", f"{ctx.model}, {set_name}", references
    )
    grid = labelled_rows(grid_rows, labels, ctx.path("reconstructions.png"))
    return {"set": set_name, "rows": rows, "curves": curves, "layers": names, "figures": [str(plot), str(grid)]}


def _perturbations(seed: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    return {
        "none": lambda c: c,
        "binarize": C.binarize,
        "dropout 50%": lambda c: C.dropout(c, 0.5, seed),
        "drop least 50%": lambda c: C.drop_least(c, 0.5),
        "binarize + dropout 50%": lambda c: C.binarize(C.dropout(c, 0.5, seed)),
    }


@register_experiment("perturb", "binarisation, dropout, dropping the least activations: error per layer")
def perturb(ctx: Context) -> dict[str, Any]:
    set_name, spec = first_set(ctx)
    images = load_images(spec, limit(ctx, 500))
    perturbations = _perturbations(ctx.seed)
    curves: dict[str, list[float]] = {name: [] for name in perturbations}
    rows: list[dict[str, Any]] = []
    names, figures = [], []
    for layer in _layers(ctx):
        rep = f"{ctx.model}:{layer}"
        reason = unavailable(rep, "decoder")
        if reason:
            rows.append({"layer": layer, "note": reason})
            continue
        names.append(layer)
        code = _codes(rep, images, ctx)
        grid_rows, labels = [images[:SHOWN]], ["input"]
        for name, fn in perturbations.items():
            recon = _decoded(rep, fn(code))
            row = {"layer": layer, "perturbation": name, **error_row(images, recon, ctx.seed)}
            rows.append(row)
            curves[name].append(row["normalized_error"])
            grid_rows.append(recon[:SHOWN])
            labels.append(name[:9])
        figures.append(str(labelled_rows(grid_rows, labels, ctx.path(f"examples_{layer}.png"))))
    write_csv(ctx.path("errors.csv"), rows)
    if names:
        figures.insert(0, str(line_plot(names, curves, ctx.path("error_by_layer.png"), "normalised error")))
    else:
        figures.append(str(labelled_rows([images[:SHOWN]], ["input"], ctx.path("input.png"))))
    mean = {k: sum(v) / len(v) for k, v in curves.items() if v}
    return {
        "set": set_name,
        "rows": rows,
        "curves": curves,
        "layers": names,
        "mean_error": mean,
        "binarize_less_harmful_than_dropout": bool(mean and mean["binarize"] < mean["dropout 50%"]),
        "figures": figures,
    }


@register_experiment("interpolate", "reconstructions along straight lines between two images' codes, per layer")
def interpolate(ctx: Context) -> dict[str, Any]:
    _, spec = first_set(ctx)
    pairs = load_images(spec, 4)
    steps = 5 if ctx.quick else 8
    grid_rows, labels, missing = [], [], []
    for layer in _layers(ctx):
        rep = f"{ctx.model}:{layer}"
        if unavailable(rep, "decoder"):
            missing.append(layer)
            continue
        code = _codes(rep, pairs, ctx)
        for a, b in ((0, 1), (2, 3)):
            line = C.interpolate(code[a], code[b], steps)
            grid_rows.append(torch.cat([pairs[a : a + 1], _decoded(rep, line), pairs[b : b + 1]]))
            labels.append(layer)
    if not grid_rows:
        grid_rows, labels = [pairs], ["inputs"]
    fig = labelled_rows(grid_rows, labels, ctx.path("interpolation.png"))
    return {"figure": str(fig), "steps": steps, "missing": missing}


@register_experiment("random-features", "reconstructions from random codes with the real codes' statistics")
def random_features(ctx: Context) -> dict[str, Any]:
    _, spec = first_set(ctx)
    reference = load_images(spec, limit(ctx, 500, 16))
    n = 6 if ctx.quick else 10
    grid_rows: list[torch.Tensor] = []
    labels: list[str] = []
    rows: list[dict[str, Any]] = []
    for layer in _layers(ctx):
        rep = f"{ctx.model}:{layer}"
        if unavailable(rep, "decoder"):
            rows.append({"layer": layer, "note": "no shipped decoder"})
            continue
        real = _codes(rep, reference, ctx)
        for method in ("histogram", "gaussian"):
            fake = C.sample_random(real, n, method, seed=ctx.seed)
            grid_rows.append(_decoded(rep, fake))
            labels.append(f"{layer} {method[:5]}")
            rows.append(
                {
                    "layer": layer,
                    "method": method,
                    "real_zero_fraction": float((real == 0).float().mean()),
                    "random_zero_fraction": float((fake == 0).float().mean()),
                }
            )
    if not grid_rows:
        grid_rows, labels = [reference[:n]], ["reference"]
    write_csv(ctx.path("sparsity.csv"), rows)
    fig = labelled_rows(grid_rows, labels, ctx.path("random_features.png"))
    return {"rows": rows, "figure": str(fig)}


@register_experiment("class-probs", "fc8: the full code vs only the top-5 classes vs everything but the top-5")
def class_probs(ctx: Context) -> dict[str, Any]:
    from preimage.models.registry import class_names

    set_name, spec = first_set(ctx)
    images = load_images(spec, limit(ctx, 500))
    layer = str(ctx.options.get("class_layer", "fc8"))
    rep = f"{ctx.model}:{layer}"
    reason = unavailable(rep, "decoder")
    if reason:
        fig = labelled_rows([images[:SHOWN]], ["input"], ctx.path("class_probs.png"))
        return {"note": reason, "figure": str(fig)}
    code = _codes(rep, images, ctx)
    names = class_names(ctx.model) or [str(i) for i in range(code.shape[1])]
    predicted = [names[i] for i in code.argmax(1)[:SHOWN].tolist()]
    variants = {"all": code, "top-5 only": C.top_k(code, 5, "top"), "all but top-5": C.top_k(code, 5, "rest")}
    rows, grid_rows, labels = [], [images[:SHOWN]], ["input"]
    for name, variant in variants.items():
        recon = _decoded(rep, variant)
        rows.append({"code": name, **error_row(images, recon, ctx.seed)})
        grid_rows.append(recon[:SHOWN])
        labels.append(name)
    write_csv(ctx.path("errors.csv"), rows)
    fig = labelled_rows(grid_rows, labels, ctx.path("class_probs.png"))
    return {"set": set_name, "layer": layer, "rows": rows, "predicted": predicted, "figure": str(fig)}


# recolourings of the paper's colour experiment: the same photos with every hue turned, or two channels swapped
RECOLOURINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "as is": lambda x: x,
    "hue +120": lambda x: rotate_hue(x, 120),
    "hue +240": lambda x: rotate_hue(x, 240),
    "swap R,B": lambda x: x[:, [2, 1, 0]],
}
COLOUR_LAYERS = ("fc6", "fc8", "prob")


@register_experiment("colour", "recoloured photos (hue turned, channels swapped): do fc6, fc8 and prob keep colour?")
def colour(ctx: Context) -> dict[str, Any]:
    """The paper's colour experiment: decoders of deep layers given codes of recoloured photos. A decoder whose
    layer keeps colour paints the recoloured photo's colours (``chroma_correlation`` with it near that of the
    photos as they are), not its training set's usual colours for the object (``chroma_with_original``; chroma:
    each channel's mean minus the mean of the three, see :func:`~preimage.metrics.mean_colour_correlation`)."""
    set_name, spec = first_set(ctx)
    images = load_images(spec, limit(ctx, 500))
    layers = [str(x) for x in ctx.options.get("colour_layers", COLOUR_LAYERS)]
    rows: list[dict[str, Any]] = []
    grid_rows: list[torch.Tensor] = []
    labels: list[str] = []
    for name, recolour in RECOLOURINGS.items():
        shifted = recolour(images)
        grid_rows.append(shifted[:SHOWN])
        labels.append(name)
        for layer in layers:
            rep = f"{ctx.model}:{layer}"
            reason = unavailable(rep, "decoder")
            if reason:
                rows.append({"layer": layer, "recolouring": name, "note": reason})
                continue
            recon = _decoded(rep, _codes(rep, shifted, ctx))
            row = {"layer": layer, "recolouring": name, **error_row(shifted, recon, ctx.seed)}
            row["chroma_correlation"] = mean_colour_correlation(shifted, recon, chroma=True)
            row["chroma_with_original"] = mean_colour_correlation(images, recon, chroma=True)
            rows.append(row)
            grid_rows.append(recon[:SHOWN])
            labels.append(f" {layer}")
    write_csv(ctx.path("colour.csv"), rows)
    fig = labelled_rows(grid_rows, labels, ctx.path("colour.png"))
    follows = {
        layer: [r["colour_correlation"] for r in rows if r["layer"] == layer and "note" not in r] for layer in layers
    }
    return {"set": set_name, "rows": rows, "colour_correlation": follows, "figure": str(fig)}
