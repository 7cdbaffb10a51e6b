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

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.inverters.codes import channel_energy, keep_channels, reallocate_random
from preimage.inverters.optimize import XIA_PRESET, OptimizationInverter, OptimizeConfig
from preimage.representations.cnn import LayerTap


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


def _tap_for(tap: LayerTap, layers: Sequence[str]) -> LayerTap:
    """A tap on the same network for other layers (shares the weights)."""
    return LayerTap(
        tap.model,
        list(layers),
        tap.get_buffer("mean").flatten().tolist(),
        tap.get_buffer("std").flatten().tolist(),
        tap.aliases,
        name=tap.name,
    )


def filter_textures(
    tap: LayerTap,
    image: torch.Tensor,
    channels: Sequence[int],
    config: OptimizeConfig = XIA_PRESET,
    batch: int = 64,
    **overrides: Any,
) -> torch.Tensor:
    """Xia et al.'s feature-map inversion of one image: the texture each filter in ``channels`` extracts.

    Shape:
        - Input: ``image`` :math:`(3, H, W)` or :math:`(1, 3, H, W)`.
        - Output: :math:`(len(channels), 3, H, W)`.
    """
    image = image[None] if image.dim() == 3 else image
    with torch.no_grad():
        code = tap(image)
    if code.dim() != 4:
        raise PreimageError(f"{tap.name} gives vectors, not feature maps — pick a convolutional layer")
    h, w = image.shape[-2:]
    out = []
    for start in range(0, len(channels), batch):
        chunk = list(channels[start : start + batch])
        targets = torch.cat([keep_channels(code, c) for c in chunk])
        inv = OptimizationInverter(tap, config, **overrides)
        out.append(inv(targets, (h, w)))
    return torch.cat(out)


def restyle_random(
    tap: LayerTap,
    image: torch.Tensor,
    seeds: Sequence[int],
    config: OptimizeConfig | None = None,
    **overrides: Any,
) -> torch.Tensor:
    """Invert the code with its energy reallocated at random, one style per seed.

    Shape:
        - Output: :math:`(len(seeds), 3, H, W)`.
    """
    image = image[None] if image.dim() == 3 else image
    with torch.no_grad():
        code = tap(image)
    targets = torch.cat([reallocate_random(code, s) for s in seeds])
    inv = OptimizationInverter(tap, config, **overrides)
    return inv(targets, tuple(image.shape[-2:]))


def restyle_purposeful(
    tap: LayerTap,
    content: torch.Tensor,
    style: torch.Tensor,
    content_layer: str,
    style_layers: Sequence[str],
    style_weight: float = 1.0,
    statistic: str = "energy",
    config: OptimizeConfig | None = None,
    **overrides: Any,
) -> torch.Tensor:
    """Purposeful reallocation (Xia et al.): keep the content's code at ``content_layer``, give every
    ``style_layers`` map the style image's energy (``statistic="gram"`` gives Gatys et al.'s transfer)."""
    content = content[None] if content.dim() == 3 else content
    style = style[None] if style.dim() == 3 else style
    layers = [content_layer, *[s for s in style_layers if s != content_layer]]
    net = _tap_for(tap, layers)
    stats = {content_layer: "code"}
    weights = {content_layer: 1.0}
    for s in style_layers:
        if s == content_layer:
            raise PreimageError("the content layer cannot also be a style layer here — pick another")
        stats[s] = statistic
        weights[s] = style_weight
    enc = StatisticEncoder(net, stats, content, weights)
    with torch.no_grad():
        c_feats, s_feats = net.features(content), net.features(style)
        target = torch.cat(
            [c_feats[content_layer].flatten(1) / enc.scales[content_layer]]
            + [STATISTICS[statistic](s_feats[s]).flatten(1) * (style_weight / enc.scales[s]) for s in style_layers],
            dim=1,
        )
    cfg = replace(config or replace(OptimizeConfig(), **net.optimize_defaults), init="random")
    return OptimizationInverter(enc, cfg, **overrides)(target, tuple(content.shape[-2:]))


def gram_distance(tap: LayerTap, images: torch.Tensor, reference: torch.Tensor, layers: Sequence[str]) -> torch.Tensor:
    """Mean over ``layers`` of ``||G(x) - G(ref)||_F / ||G(ref)||_F`` per image ``(B,)``."""
    net = _tap_for(tap, layers)
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
    net = _tap_for(tap, layers)
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
