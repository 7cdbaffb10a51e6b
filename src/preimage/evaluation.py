"""``preimage evaluate``: the normalised reconstruction error of one inverter on a test set."""

from __future__ import annotations

from typing import Any

import torch

from preimage.data import read_images
from preimage.errors import PreimageError, unknown_name
from preimage.metrics import protocol_errors

METHODS = ("decoder", "optimize", "autoencoder", "hoggles")
# the side of the reconstructions every shipped decoder predicts (the paper's downsampled targets), and so the
# default output of the other methods for larger inputs, which makes every method's error comparable
DEFAULT_OUTPUT_SIZE = 64


def output_size_for(method_native: int, input_size: int, output_size: int | None, decoder: bool) -> int:
    """The side reconstructions are delivered at: ``output_size``, else the decoder's own, else
    ``min(input_size, 64)`` (optimisation and HOGgles reconstruct at the input size, then downsample)."""
    if output_size is not None:
        return output_size
    return method_native if decoder else min(input_size, DEFAULT_OUTPUT_SIZE)


def to_output_size(recon: torch.Tensor, size: int, what: str) -> torch.Tensor:
    """Bring reconstructions ``(N, 3, s, s)`` to ``size``: downsampled with antialiasing (the protocol's
    filter), or upsampled bilinearly with a warning, since that adds no detail to what ``what`` produced."""
    import sys

    from preimage.data.images import resize

    native = recon.shape[-1]
    if size > native:
        print(
            f"preimage: warning: --output-size {size} is larger than the {native}-px output of {what}: "
            "upsampled bilinearly, which adds no detail",
            file=sys.stderr,
        )
    return resize(recon, size)


def check_decoder_options(
    method: str, flip_average: bool, decoder_weights: str | None = None, decoder_variant: str | None = None
) -> None:
    """Flip averaging, decoder weights and variants are ways of running a decoder; other methods would ignore them."""
    if flip_average and method != "decoder":
        raise PreimageError(f"--flip-average averages decoder outputs; drop it or use --method decoder, not {method}")
    for flag, value in (("--decoder-weights", decoder_weights), ("--decoder-variant", decoder_variant)):
        if value is not None and method != "decoder":
            raise PreimageError(f"{flag} is for --method decoder; drop it or switch from --method {method}")


def reconstruct(
    rep_name: str,
    method: str,
    images: torch.Tensor,
    steps: int = 200,
    batch: int = 64,
    seed: int = 0,
    weights: str = "default",
    flip_average: bool = False,
    decoder_weights: str | None = None,
    decoder_variant: str | None = None,
    output_size: int | None = None,
) -> torch.Tensor:
    """Reconstructions of ``images`` ``(N, 3, S, S)`` by ``method``, at ``output_size`` (see
    :func:`output_size_for`; the representation always sees the images at their own size ``S``).

    ``decoder``: the shipped learned decoder (or its ``decoder_variant``), or ``decoder_weights``
    (``flip_average`` averages it with the mirrored code's decoding); ``autoencoder``: shipped fine-tuned
    encoder + decoder; ``optimize``: gradient descent on the image; ``hoggles``: the paired-dictionary
    baseline, HOG only.
    """
    from preimage.representations import create_representation

    if method not in METHODS:
        raise unknown_name("method", method, METHODS)
    check_decoder_options(method, flip_average, decoder_weights, decoder_variant)
    extra: dict[str, Any] = {"weights": weights} if ":" in rep_name else {}
    rep = create_representation(rep_name, **extra)
    size = images.shape[-1]
    recon, native, what = _reconstruct_native(
        rep, rep_name, method, images, steps, batch, seed, flip_average, decoder_weights, decoder_variant
    )
    return to_output_size(recon, output_size_for(native, size, output_size, method == "decoder"), what)


def _reconstruct_native(
    rep: Any,
    rep_name: str,
    method: str,
    images: torch.Tensor,
    steps: int,
    batch: int,
    seed: int,
    flip_average: bool,
    decoder_weights: str | None,
    decoder_variant: str | None,
) -> tuple[torch.Tensor, int, str]:
    """``(reconstructions at the method's own size, that size, what made them)``."""
    from preimage.inverters.decoders import load_decoder
    from preimage.inverters.optimize import invert_optimize

    size = images.shape[-1]
    if method == "hoggles":
        from preimage.inverters.hoggles import PairedDictionary

        if rep.name != "hog":  # the name every spelling of HOG's default (hog, hog@8) goes by
            raise PreimageError(f"--method hoggles inverts HOG only, not {rep_name!r}; use --method decoder")
        dictionary = PairedDictionary.from_pretrained()
        with torch.no_grad():
            out = torch.cat([dictionary(rep(images[i : i + 256])) for i in range(0, len(images), 256)])
        return out, out.shape[-1], "HOGgles"
    if method == "autoencoder":
        from preimage.inverters.decoders import load_autoencoder

        if size != 64:
            raise PreimageError(f"the shipped autoencoders see 64-px images, not {size} px — pass --size 64")
        encoder, decoder = load_autoencoder(rep_name)
        with torch.no_grad():
            out = torch.cat([decoder(encoder(images[i : i + 256])) for i in range(0, len(images), 256)])
        return out, decoder.image_size, "the autoencoder"
    if method == "decoder":
        decoder = load_decoder(rep_name, decoder_weights, size, decoder_variant)
        decoder.flip_average = flip_average
        with torch.no_grad():
            out = torch.cat([decoder(rep(images[i : i + 256])) for i in range(0, len(images), 256)])
        return out, decoder.image_size, "the decoder"
    parts = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        with torch.no_grad():
            code = rep(x)
        parts.append(invert_optimize(rep, code, size, steps=steps, seed=seed, progress=False))
    return torch.cat(parts), size, "optimisation"


def evaluate_inverter(
    rep_name: str,
    method: str,
    data: str,
    limit: int | None = None,
    size: int = 64,
    steps: int = 200,
    batch: int = 64,
    seed: int = 0,
    flip_average: bool = False,
    decoder_weights: str | None = None,
    decoder_variant: str | None = None,
    output_size: int | None = None,
    strict: bool = False,
) -> dict[str, Any]:
    """Normalised error of ``method`` on ``data``: at the output size against the images downsampled to it,
    and at ``size`` with the reconstructions upsampled (:func:`preimage.metrics.protocol_errors`)."""
    items, skipped = read_images([data], size=size, fit="center", limit=limit, strict=strict)
    images = torch.stack([it.image for it in items])
    if len(images) < 2:
        raise PreimageError(f"{data} holds fewer than 2 images; the normalised error needs at least 2")
    recon = reconstruct(
        rep_name,
        method,
        images,
        steps,
        batch,
        seed,
        flip_average=flip_average,
        decoder_weights=decoder_weights,
        decoder_variant=decoder_variant,
        output_size=output_size,
    )
    return {
        "rep": rep_name,
        "method": method,
        **protocol_errors(images, recon, seed),
        "skipped": skipped.total,
        "size": size,
        "output_size": recon.shape[-1],
        **({"steps": steps} if method == "optimize" else {}),
        **({"flip_average": True} if flip_average else {}),
        **({"decoder_weights": decoder_weights} if decoder_weights else {}),
        **({"decoder_variant": decoder_variant} if decoder_variant else {}),
    }
