"""``preimage evaluate``: the normalised reconstruction error of one inverter on a test set."""

from __future__ import annotations

from typing import Any

import torch

from preimage.data import iter_images
from preimage.errors import PreimageError, unknown_name
from preimage.metrics import bootstrap, mean_pairwise_distance, per_image_normalized_error

METHODS = ("decoder", "optimize", "autoencoder", "hoggles")


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
) -> torch.Tensor:
    """Reconstructions of ``images`` ``(N, 3, S, S)`` by ``method``.

    ``decoder``: the shipped learned decoder (or its ``decoder_variant``), or ``decoder_weights``
    (``flip_average`` averages it with the mirrored code's decoding); ``autoencoder``: shipped fine-tuned
    encoder + decoder; ``optimize``: gradient descent on the image; ``hoggles``: the paired-dictionary
    baseline, HOG only.
    """
    from preimage.inverters.decoders import load_decoder
    from preimage.inverters.optimize import invert_optimize
    from preimage.representations import create_representation

    if method not in METHODS:
        raise unknown_name("method", method, METHODS)
    check_decoder_options(method, flip_average, decoder_weights, decoder_variant)
    extra: dict[str, Any] = {"weights": weights} if ":" in rep_name else {}
    rep = create_representation(rep_name, **extra)
    if method == "hoggles":
        from preimage.inverters.hoggles import PairedDictionary

        if rep.name != "hog":  # the name every spelling of HOG's default (hog, hog@8) goes by
            raise PreimageError(f"--method hoggles inverts HOG only, not {rep_name!r}; use --method decoder")
        dictionary = PairedDictionary.from_pretrained()
        with torch.no_grad():
            return torch.cat([dictionary(rep(images[i : i + 256])) for i in range(0, len(images), 256)])
    size = images.shape[-1]
    out = []
    if method == "autoencoder":
        from preimage.inverters.decoders import load_autoencoder

        encoder, decoder = load_autoencoder(rep_name)
        with torch.no_grad():
            return torch.cat([decoder(encoder(images[i : i + 256])) for i in range(0, len(images), 256)])
    if method == "decoder":
        decoder = load_decoder(rep_name, decoder_weights, images.shape[-1], decoder_variant)
        decoder.flip_average = flip_average
        with torch.no_grad():
            return torch.cat([decoder(rep(images[i : i + 256])) for i in range(0, len(images), 256)])
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        with torch.no_grad():
            code = rep(x)
        out.append(invert_optimize(rep, code, size, steps=steps, seed=seed, progress=False))
    return torch.cat(out)


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
) -> dict[str, Any]:
    images = torch.stack([it.image for it in iter_images([data], size=size, fit="center", limit=limit, strict=False)])
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
    )
    per = per_image_normalized_error(images, recon, mean_pairwise_distance(images))
    est = bootstrap(per, seed=seed)
    return {
        "rep": rep_name,
        "method": method,
        "normalized_error": est.mean,
        "ci95": list(est.ci95),
        "n": est.n,
        "size": size,
        **({"steps": steps} if method == "optimize" else {}),
        **({"flip_average": True} if flip_average else {}),
        **({"decoder_weights": decoder_weights} if decoder_weights else {}),
        **({"decoder_variant": decoder_variant} if decoder_variant else {}),
    }
