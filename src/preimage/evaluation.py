"""``preimage evaluate``: the normalised reconstruction error of one inverter on a test set."""

from __future__ import annotations

from typing import Any

import torch

from preimage.data import read_images
from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.inverters import create_inverter, taken_options
from preimage.inverters.base import DEFAULT_OUTPUT_SIZE, output_size_for, to_output_size
from preimage.metrics import (
    COLOUR_DETAIL_SIGMA,
    FINE_DETAIL_SIGMA,
    colour_detail_ratio,
    edge_energy_ratio,
    fixed_pattern_share,
    judge_agreement,
    periodic_peaks,
    protocol_errors,
)
from preimage.representations.base import Representation

# how a result names the options that pick or run a decoder (the flags' names)
RESULT_KEYS = {"flip_average": "flip_average", "weights": "decoder_weights", "variant": "decoder_variant"}

__all__ = ["DEFAULT_OUTPUT_SIZE", "evaluate_inverter", "output_size_for", "reconstruct", "to_output_size"]


def reconstruct(
    rep: Representation,
    method: str,
    images: torch.Tensor,
    steps: int = 200,
    batch: int = 64,
    seed: int = 0,
    output_size: int | None = None,
    **options: Any,
) -> torch.Tensor:
    """Reconstructions of ``images`` ``(N, 3, S, S)`` by the inverter ``method`` (see
    :func:`preimage.inverters.create_inverter`), at ``output_size`` (default: the decoder's own, else
    ``min(S, 64)``; the representation always sees the images at their own size ``S``).

    ``steps``, ``batch`` and ``seed`` go to the inverters that have a use for them (optimisation); ``options``
    are the method's own (``flip_average=True``, ``weights=...``, ``variant=...`` for ``decoder``) and are
    refused by a method that does not take them.
    """
    settings = taken_options(method, {"steps": steps, "batch": batch, "seed": seed})
    inverter = create_inverter(method, rep, input_size=images.shape[-1], output_size=output_size, **settings, **options)
    return inverter.reconstruct(images)


# the judge of plausibility: a network no decoder was trained with (the decoders and their comparator use alexnet64)
JUDGE = "vgg19_64"


class Judge(torch.nn.Module):
    """A classifier as a judge of reconstructions: ``images -> (relu4_1 features, class probabilities)``.

    Shape:
        - Input: :math:`(N, 3, S, S)` in ``[0, 1]``, ``S = input_size``. Output: :math:`(N, C, h, w)`, :math:`(N, K)`.
    """

    def __init__(self, model: str = JUDGE) -> None:
        super().__init__()
        from preimage.models import get_config
        from preimage.representations.cnn import create_cnn_representation

        self.tap = create_cnn_representation(f"{model}:relu4_1,prob", weights="default")
        self.input_size = get_config(model).input_size

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.tap.features(images)
        return out["relu4_1"], out["prob"]


def _largest_peak(images: torch.Tensor) -> float | None:
    """The largest ratio of :func:`preimage.metrics.periodic_peaks` (None for non-square or tiny images)."""
    if images.shape[-1] != images.shape[-2] or images.shape[-1] < 8:
        return None
    return round(float(periodic_peaks(images.float()).max()), 3)


def _fixed_share(images: torch.Tensor) -> float | None:
    """:func:`preimage.metrics.fixed_pattern_share` (None for images too small to blur)."""
    if min(images.shape[-2:]) <= 3 * FINE_DETAIL_SIGMA:
        return None
    return round(fixed_pattern_share(images.float()), 4)


def _colour_ratio(images: torch.Tensor, recon: torch.Tensor) -> float | None:
    """:func:`preimage.metrics.colour_detail_ratio` (None for gray or tiny images)."""
    if recon.shape[1] != 3 or images.shape[1] != 3 or min(recon.shape[-2:]) <= 3 * COLOUR_DETAIL_SIGMA:
        return None
    return round(colour_detail_ratio(images, recon), 3)


def plausibility(images: torch.Tensor, recon: torch.Tensor) -> dict[str, Any]:
    """Sharpness and plausibility beside the pixel error.

    The edge-energy ratio; two checks that the edges are the photos' and not one texture painted on every image,
    which raises the edge energy too: the largest periodic peak of the reconstructions' spectra
    (:func:`preimage.metrics.periodic_peaks`) and the share of their fine detail common to all of them
    (:func:`preimage.metrics.fixed_pattern_share`), each beside the photos'; how strongly their fine detail is
    coloured, over the photos' (:func:`preimage.metrics.colour_detail_ratio`: rainbow fringes); and the agreement
    of :data:`JUDGE` between photo and reconstruction (:func:`preimage.metrics.judge_agreement`), left out when its
    weights are not in the zoo."""
    from preimage import zoo

    target = resize(images.float(), (int(recon.shape[-2]), int(recon.shape[-1])))
    out: dict[str, Any] = {
        "edge_energy_ratio": edge_energy_ratio(target, recon),
        "periodic_peak": {"reconstruction": _largest_peak(recon), "photo": _largest_peak(target)},
        "fixed_pattern_share": {"reconstruction": _fixed_share(recon), "photo": _fixed_share(target)},
        "colour_detail_ratio": _colour_ratio(target, recon),
    }
    if zoo.lookup("network", JUDGE) is not None:
        out["judge"] = {"model": JUDGE, **judge_agreement(Judge().eval(), images, recon)}
    return out


def evaluate_inverter(
    rep: Representation,
    method: str,
    data: str,
    limit: int | None = None,
    size: int = 64,
    steps: int = 200,
    batch: int = 64,
    seed: int = 0,
    output_size: int | None = None,
    strict: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Normalised error of ``method`` on ``data``: at the output size against the images downsampled to it,
    and at ``size`` with the reconstructions upsampled (:func:`preimage.metrics.protocol_errors`).

    ``options`` are the method's own, as for :func:`reconstruct`."""
    settings = taken_options(method, {"steps": steps, "batch": batch, "seed": seed})
    # built before the images are read: a refused option or a missing decoder is named at once
    inverter = create_inverter(method, rep, input_size=size, output_size=output_size, **settings, **options)
    items, skipped = read_images([data], size=size, fit="center", limit=limit, strict=strict)
    images = torch.stack([it.image for it in items])
    if len(images) < 2:
        raise PreimageError(f"{data} holds fewer than 2 images; the normalised error needs at least 2")
    recon = inverter.reconstruct(images)
    return {
        "rep": rep.name,
        "method": method,
        **protocol_errors(images, recon, seed),
        **plausibility(images, recon),
        "skipped": skipped.total,
        "size": size,
        "output_size": recon.shape[-1],
        **({"steps": steps} if "steps" in settings else {}),
        **{RESULT_KEYS.get(k, k): str(v) if k == "weights" else v for k, v in options.items() if v},
    }
