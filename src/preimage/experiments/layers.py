"""Dosovitskiy & Brox, the CNN: what each alexnet64 layer keeps (Figures 5-10 of the paper).

``layers``: normalised error per layer for the learned decoder, the
autoencoder bound and optimisation. ``perturb``: the same decoders fed
binarised, dropped-out and thinned codes. ``interpolate``: straight lines
between two images' codes. ``random-features``: codes drawn from the real
codes' per-dimension statistics. ``class-probs``: fc8 with only the top-5
classes versus everything but the top-5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

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
from preimage.report.figures import labelled_rows, line_plot

SHOWN = 8


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
    curves: dict[str, list[float]] = {"decoder": [], "autoencoder": [], "optimize": []}
    grid_rows, labels = [images[:SHOWN]], ["input"]
    names = _layers(ctx)
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
    plot = line_plot(names, curves, ctx.path("error_by_layer.png"), "normalised error", f"{ctx.model}, {set_name}")
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
        labels.append(name[:12])
    write_csv(ctx.path("errors.csv"), rows)
    fig = labelled_rows(grid_rows, labels, ctx.path("class_probs.png"))
    return {"set": set_name, "layer": layer, "rows": rows, "predicted": predicted, "figure": str(fig)}
