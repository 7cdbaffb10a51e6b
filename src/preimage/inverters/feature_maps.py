"""Feature-map inversion (Xia et al. 2016): per-filter textures, energy reallocation, and the Gram matrix.

Built on :class:`~preimage.inverters.optimize.OptimizationInverter`: every
routine here turns images into a (modified) target code and inverts it.

- :func:`filter_textures`: keep one feature map (which receives the per-pixel
  sum over all maps) and invert -> the texture that filter extracts.
- :func:`restyle_random`: reallocate the energy across maps at random (one
  seed per style), conserve the total, invert -> diverse styles.
- :func:`restyle_purposeful`: content code at a middle layer plus the style
  image's per-channel energies at several layers -> style transfer.
- :func:`gram_explain`: reconstruct a style from its Gram matrices, from its
  channel energies only, and from random reallocations, scored by the Gram
  distance: the Gram's diagonal *is* the per-channel (squared) energy, which
  is what decides which filters' textures appear, hence the style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.inverters.codes import channel_energy, keep_channels, reallocate_by_rank, reallocate_random
from preimage.inverters.optimize import OptimizationInverter, OptimizeConfig
from preimage.inverters.xia import (
    XIA_INVERSION,
    XIA_RECIPES,
    XIA_STYLE,
    XiaConfig,
    XiaInverter,
    as_recipe,
    half_squared_objective,
    xia_invert,
    xia_style_objective,
)
from preimage.models import default_weights_path, get_config
from preimage.representations.cnn import LayerTap

# The defaults of every feature-map entry point, for the shipped networks' [0, 1] mean/std-normalised
# input: Adam on the size-independent normalised loss, lr 0.3 in [0, 1] units, an alpha-norm prior
# 100x the inversion default (keeps pixels in range, so less is lost to the final clip), no TV, no
# jitter (both smooth away the texture and raised the feature error above 0.9 on alexnet64 conv2).
# Xia et al.'s own numbers (XiaConfig, --recipe xia) are for 0-255 mean-subtracted pixels and the gradient
# scale of Caffe's VGG-19; --recipe xia rescales the loss to that scale (see preimage.inverters.xia).
TEXTURE_PRESET = OptimizeConfig(
    steps=150,
    optimizer="adam",
    lr=0.3,
    loss="normalized",
    lambda_alpha=1e-3,
    lambda_tv=0.0,
    jitter=0,
    tol=0.0,
    init="random",
    progress=False,
)
RECIPES = ("preimage", *XIA_RECIPES)
CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
VGG_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # the layers of Xia et al.'s figures
TEXTURE_MODELS = ("vgg19_64", "alexnet64")  # preferred first: Xia et al. ran VGG-19 with average pooling


def texture_model() -> str:
    """``vgg19_64`` when its weights are in the zoo (they ship), else ``alexnet64`` (the network the textures
    experiment, ``preimage textures`` and the demo use)."""
    for name in TEXTURE_MODELS:
        if default_weights_path(name) is not None:
            return name
    return TEXTURE_MODELS[-1]


def texture_layers(model: str) -> tuple[str, ...]:
    """relu1_1 .. relu5_1 on a VGG (the paper's figures), conv1 .. conv5 on an AlexNet; a network without those
    aliases (a user's own) has no default layers: ()."""
    aliases = get_config(model).aliases
    if "relu5_1" in aliases:
        return VGG_LAYERS
    return CONV_LAYERS if "conv5" in aliases else ()


INACTIVE = "inactive on this image"


def _check_recipe(recipe: str) -> None:
    if recipe not in RECIPES:
        raise PreimageError(
            f"unknown recipe {recipe!r}; use 'preimage' (TEXTURE_PRESET), 'xia' (the official code at the gradient "
            "scale it was tuned for) or 'xia-literal' (the official code unscaled)"
        )


def _xia_config(
    recipe: str, config: OptimizeConfig | XiaConfig | None, default: XiaConfig, overrides: dict[str, Any]
) -> XiaConfig:
    """The settings a Xia recipe runs with: ``config`` (or ``default``) as ``recipe`` runs it, with the
    keywords both recipes share (``steps`` caps Xia's updates, ``progress`` has no bar there)."""
    out = {k: v for k, v in overrides.items() if k != "progress"}
    if "steps" in out:
        out["max_steps"] = out.pop("steps")
    return replace(as_recipe(config if isinstance(config, XiaConfig) else default, recipe), **out)


def relative_feature_error(encoder: Any, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``||Phi(x) - Phi_0|| / ||Phi_0||`` per image ``(B,)``."""
    with torch.no_grad():
        diff = (encoder(images) - targets).flatten(1).norm(dim=1)
    return diff / targets.flatten(1).norm(dim=1).clamp_min(1e-12)


def most_energetic(code: torch.Tensor, k: int) -> list[int]:
    """The ``k`` channels of ``code`` ``(1, C, ...)`` with the largest energy (sum), strongest first."""
    energy = channel_energy(code)[0]
    return energy.argsort(descending=True, stable=True)[: min(k, energy.numel())].tolist()


def inactive_tile(h: int, w: int) -> torch.Tensor:
    """A white tile crossed in red: what the atlas shows for a channel that is zero on the image ``(3, h, w)``."""
    tile = torch.ones(3, h, w)
    ys = torch.arange(h).float()[:, None] / max(h - 1, 1)
    xs = torch.arange(w).float()[None, :] / max(w - 1, 1)
    cross = ((ys - xs).abs() < 0.04) | ((ys + xs - 1).abs() < 0.04)
    tile[1][cross] = 0.1
    tile[2][cross] = 0.1
    return tile


@dataclass
class Textures:
    """The textures of some filters of one layer on one image.

    ``images[i]`` is the texture of ``channels[i]``; a channel whose map is all zero on the image is
    ``active[i] = False``: it is not inverted, its tile is :func:`inactive_tile` and its status reads
    ``"inactive on this image"``; its ``feature_error`` is NaN.
    """

    images: torch.Tensor
    channels: list[int]
    energy: list[float]
    active: list[bool]
    feature_error: list[float]
    recipe: str = "preimage"
    steps: list[int] = field(default_factory=list)

    def status(self, i: int) -> str:
        return "texture" if self.active[i] else INACTIVE

    def rows(self) -> list[dict[str, Any]]:
        """One CSV row per channel."""
        return [
            {
                "channel": c,
                "energy": self.energy[i],
                "status": self.status(i),
                "feature_error": self.feature_error[i],
                "image_std": float(self.images[i].std()) if self.active[i] else math.nan,
            }
            for i, c in enumerate(self.channels)
        ]


def gram_matrix(maps: torch.Tensor) -> torch.Tensor:
    """Gram matrix of feature maps, ``G_cd = sum_p F_c(p) F_d(p) / (H W)``.

    Shape:
        - Input: :math:`(B, C, H, W)`. Output: :math:`(B, C, C)`.
    """
    if maps.dim() != 4:
        raise PreimageError(f"gram_matrix: expected feature maps (B, C, H, W), got {tuple(maps.shape)}")
    flat = maps.flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[-1]


def mean_energy(maps: torch.Tensor) -> torch.Tensor:
    """Per-channel mean activation ``(B, C)``: the energy Xia et al. reallocate, per pixel."""
    return channel_energy(maps) / maps[0, 0].numel()


STATISTICS = {"gram": gram_matrix, "energy": mean_energy, "code": lambda t: t}


class StatisticEncoder(nn.Module):
    """Concatenate a statistic (``gram``, ``energy`` or the raw ``code``) of several tapped layers.

    Each layer's part is divided by the norm of the same statistic of a
    reference image, so that under the normalised feature loss every layer
    weighs the same, whatever its size. ``weights`` scales layers further.

    Shape:
        - Input: :math:`(B, 3, H, W)` in ``[0, 1]``. Output: :math:`(B, D)`.
    """

    differentiable = True

    def __init__(
        self,
        tap: LayerTap,
        statistics: dict[str, str],
        reference: torch.Tensor,
        weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        unknown = [s for s in statistics.values() if s not in STATISTICS]
        if unknown:
            raise PreimageError(f"unknown statistic {unknown[0]!r}; use one of {', '.join(STATISTICS)}")
        self.tap, self.statistics = tap, statistics
        self.weights = weights or {}
        self.optimize_defaults = tap.optimize_defaults
        with torch.no_grad():
            feats = tap.features(reference)
            self.scales = {
                k: float(STATISTICS[s](feats[k]).flatten(1).norm(dim=1).mean().clamp_min(1e-8))
                for k, s in statistics.items()
            }

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.tap.features(images)
        parts = [
            STATISTICS[s](feats[k]).flatten(1) * (self.weights.get(k, 1.0) / self.scales[k])
            for k, s in self.statistics.items()
        ]
        return torch.cat(parts, dim=1)


def filter_textures(
    tap: LayerTap,
    image: torch.Tensor,
    channels: Sequence[int] | None = None,
    config: OptimizeConfig | XiaConfig | None = None,
    batch: int = 64,
    recipe: str = "preimage",
    k: int = 8,
    **overrides: Any,
) -> Textures:
    """Xia et al.'s feature-map inversion of one image: the texture each filter in ``channels`` extracts.

    The kept map receives the sum over all maps (``keep_channels(mode="sum")``, the official
    ``feature_map`` modification). ``channels=None`` takes the ``k`` most energetic channels.
    ``recipe="preimage"`` optimises with ``config`` (default :data:`TEXTURE_PRESET`), ``"xia"`` with the
    official code's recipe (``config`` a :class:`XiaConfig`, default :data:`XIA_INVERSION`).

    Shape:
        - Input: ``image`` :math:`(3, H, W)` or :math:`(1, 3, H, W)`.
        - Output: :class:`Textures` with ``images`` :math:`(len(channels), 3, H, W)`.
    """
    _check_recipe(recipe)
    image = image[None] if image.dim() == 3 else image
    with torch.no_grad():
        code = tap(image)
    if code.dim() != 4:
        raise PreimageError(f"{tap.name} gives vectors, not feature maps — pick a convolutional layer")
    chosen = most_energetic(code, k) if channels is None else [int(c) for c in channels]
    energy = channel_energy(code)[0]
    active = [bool(code[0, c].abs().amax() > 0) for c in chosen]  # any non-zero value (pre-ReLU taps too)
    h, w = image.shape[-2:]
    images = torch.stack([inactive_tile(h, w) for _ in chosen]) if chosen else torch.zeros(0, 3, h, w)
    errors = [math.nan] * len(chosen)
    steps = [0] * len(chosen)
    todo = [i for i, a in enumerate(active) if a]
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        targets = torch.cat([keep_channels(code, chosen[i]) for i in part])
        if recipe in XIA_RECIPES:
            xcfg = _xia_config(recipe, config, XIA_INVERSION, overrides)
            inv = XiaInverter(half_squared_objective(tap, targets), xcfg)
            out = inv(len(part), (h, w), targets.device)
            ran = inv.steps
        else:
            ocfg = config if isinstance(config, OptimizeConfig) else TEXTURE_PRESET
            opt = OptimizationInverter(tap, ocfg, **overrides)
            out = opt(targets, (h, w))
            ran = [len(opt.history)] * len(part)
        err = relative_feature_error(tap, out, targets).tolist()
        for j, i in enumerate(part):
            images[i], errors[i], steps[i] = out[j], err[j], ran[j]
    return Textures(images, chosen, energy[chosen].tolist(), active, errors, recipe, steps)


def _invert(
    encoder: Any,
    targets: torch.Tensor,
    size: tuple[int, int],
    recipe: str,
    config: OptimizeConfig | XiaConfig | None,
    xia_default: XiaConfig,
    **overrides: Any,
) -> torch.Tensor:
    _check_recipe(recipe)
    if recipe in XIA_RECIPES:
        return xia_invert(encoder, targets, size, _xia_config(recipe, config, xia_default, overrides))
    ocfg = config if isinstance(config, OptimizeConfig) else TEXTURE_PRESET
    return OptimizationInverter(encoder, ocfg, **overrides)(targets, size)


def restyle_random(
    tap: LayerTap,
    image: torch.Tensor,
    seeds: Sequence[int],
    config: OptimizeConfig | XiaConfig | None = None,
    rates: str = "dirichlet",
    recipe: str = "preimage",
    **overrides: Any,
) -> torch.Tensor:
    """Invert the code with its energy reallocated at random, one style per seed.

    ``rates``: ``"dirichlet"`` (default, every rate positive) or ``"xia"`` (the official N(3, 1000^2)
    draws normalised by their sum), see :func:`~preimage.inverters.codes.reallocate_random`.

    Shape:
        - Output: :math:`(len(seeds), 3, H, W)`.
    """
    image = image[None] if image.dim() == 3 else image
    with torch.no_grad():
        code = tap(image)
    targets = torch.cat([reallocate_random(code, s, rates=rates) for s in seeds])
    return _invert(tap, targets, tuple(image.shape[-2:]), recipe, config, XIA_INVERSION, **overrides)  # type: ignore[arg-type]


def restyle_direct(
    tap: LayerTap,
    content: torch.Tensor,
    style: torch.Tensor,
    config: OptimizeConfig | XiaConfig | None = None,
    recipe: str = "preimage",
    **overrides: Any,
) -> torch.Tensor:
    """Xia et al.'s direct purposeful reallocation (``restyle --mode purposeful-direct``): the content's
    maps reassigned by energy rank to the style's ranking, each mean replaced by the style map's
    (:func:`~preimage.inverters.codes.reallocate_by_rank`), then inverted.

    Shape:
        - Output: :math:`(1, 3, H, W)`.
    """
    content = content[None] if content.dim() == 3 else content
    style = style[None] if style.dim() == 3 else style
    with torch.no_grad():
        target = reallocate_by_rank(tap(content), tap(style))
    return _invert(tap, target, tuple(content.shape[-2:]), recipe, config, XIA_INVERSION, **overrides)  # type: ignore[arg-type]


# the official purposeful optimisation (vis_style.py): content relu2_2, style sums at relu1_1 .. relu4_1
XIA_CONTENT_LAYER = "relu2_2"
XIA_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
XIA_CONTENT_WEIGHT, XIA_STYLE_WEIGHT = 10.0, 1.0


def restyle_purposeful(
    tap: LayerTap,
    content: torch.Tensor,
    style: torch.Tensor,
    content_layer: str = XIA_CONTENT_LAYER,
    style_layers: Sequence[str] = XIA_STYLE_LAYERS,
    style_weight: float = XIA_STYLE_WEIGHT,
    statistic: str = "energy",
    config: OptimizeConfig | XiaConfig | None = None,
    content_weight: float = XIA_CONTENT_WEIGHT,
    recipe: str = "preimage",
    **overrides: Any,
) -> torch.Tensor:
    """Purposeful reallocation by optimisation (Xia et al.): keep the content's code at ``content_layer``,
    give every ``style_layers`` map the style image's energy (``statistic="gram"`` gives Gatys et al.'s
    transfer). The defaults are the official layers and weights (on a VGG: content relu2_2 x10, style
    per-channel sums at relu1_1, 2_1, 3_1, 4_1 x1).

    ``recipe="xia"`` runs the official loss (content ``||F - F0||^2 / 2HW``, style
    ``||sum_p F - s||^2 / 2CHW``) with :data:`~preimage.inverters.xia.XIA_STYLE`; ``"preimage"`` the
    normalised per-layer loss of :class:`StatisticEncoder` with :data:`TEXTURE_PRESET`.
    """
    _check_recipe(recipe)
    content = content[None] if content.dim() == 3 else content
    style = style[None] if style.dim() == 3 else style
    if content_layer in style_layers:
        raise PreimageError("the content layer cannot also be a style layer here — pick another")
    layers = [content_layer, *style_layers]
    net = tap.with_layers(layers)
    size = tuple(content.shape[-2:])
    if recipe in XIA_RECIPES:
        if statistic != "energy":
            raise PreimageError(f"recipe {recipe!r} matches per-channel sums (statistic='energy') as the official code")
        with torch.no_grad():
            c_feats, s_feats = net.features(content), net.features(style)
        objective = xia_style_objective(
            net.features,
            content_layer,
            c_feats[content_layer],
            {s: s_feats[s].flatten(2).sum(2) for s in style_layers},
            content_weight,
            style_weight,
        )
        return XiaInverter(objective, _xia_config(recipe, config, XIA_STYLE, overrides))(1, size)
    stats = {content_layer: "code"}
    weights = {content_layer: content_weight}
    for s in style_layers:
        stats[s] = statistic
        weights[s] = style_weight
    enc = StatisticEncoder(net, stats, content, weights)
    with torch.no_grad():
        c_feats, s_feats = net.features(content), net.features(style)
        target = torch.cat(
            [c_feats[content_layer].flatten(1) * (content_weight / enc.scales[content_layer])]
            + [STATISTICS[statistic](s_feats[s]).flatten(1) * (style_weight / enc.scales[s]) for s in style_layers],
            dim=1,
        )
    ocfg = config if isinstance(config, OptimizeConfig) else TEXTURE_PRESET
    return OptimizationInverter(enc, ocfg, **overrides)(target, size)


def gram_distance(tap: LayerTap, images: torch.Tensor, reference: torch.Tensor, layers: Sequence[str]) -> torch.Tensor:
    """Mean over ``layers`` of ``||G(x) - G(ref)||_F / ||G(ref)||_F`` per image ``(B,)``."""
    net = tap.with_layers(layers)
    with torch.no_grad():
        fx, fr = net.features(images), net.features(reference)
        dists = [
            (gram_matrix(fx[k]) - gram_matrix(fr[k])).flatten(1).norm(dim=1)
            / gram_matrix(fr[k]).flatten(1).norm(dim=1).clamp_min(1e-12)
            for k in layers
        ]
    return torch.stack(dists).mean(0)


def gram_explain(
    tap: LayerTap,
    style: torch.Tensor,
    layers: Sequence[str],
    n_random: int = 3,
    seed: int = 0,
    config: OptimizeConfig | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Reconstruct ``style`` from noise by matching (a) Gram matrices, (b) channel energies only,
    (c) randomly reallocated energies, and score every result by the Gram distance at ``layers``.

    Returns images per method and a table of Gram distances (mean, per-image), with noise and the
    style image itself as the two ends of the scale.
    """
    style = style[None] if style.dim() == 3 else style
    net = tap.with_layers(layers)
    size = tuple(style.shape[-2:])
    cfg = config or replace(OptimizeConfig(), **net.optimize_defaults)
    results: dict[str, torch.Tensor] = {}
    for name, stat in (("gram", "gram"), ("energy", "energy")):
        enc = StatisticEncoder(net, dict.fromkeys(layers, stat), style)
        with torch.no_grad():
            target = enc(style)
        results[name] = OptimizationInverter(enc, replace(cfg, seed=seed), **overrides)(target, size)
    enc = StatisticEncoder(net, dict.fromkeys(layers, "energy"), style)
    with torch.no_grad():
        feats = net.features(style)
        targets = []
        for r in range(n_random):
            parts = [
                mean_energy(reallocate_random(feats[k], seed + 1000 + r)).flatten(1) / enc.scales[k] for k in layers
            ]
            targets.append(torch.cat(parts, 1))
    results["random_energy"] = OptimizationInverter(enc, replace(cfg, seed=seed), **overrides)(torch.cat(targets), size)
    gen = torch.Generator().manual_seed(seed)
    results["noise"] = torch.rand(1, 3, *size, generator=gen) * 0.2 + 0.4
    scores = {name: gram_distance(tap, imgs, style, layers).tolist() for name, imgs in results.items()}
    scores["style_itself"] = gram_distance(tap, style, style, layers).tolist()
    summary = {name: float(np.mean(v)) for name, v in scores.items()}
    return {"images": results, "gram_distance": scores, "summary": summary, "layers": list(layers)}
