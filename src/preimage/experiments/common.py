"""Test sets, inverters and error estimates shared by the experiments.

Test sets: with ``--data ROOT`` (a shard folder: Tiny-ImageNet, or imagenette-224
for the full-resolution protocol) the experiments use ``ROOT/val-*.tar.gz`` and,
when it lies beside it, ``ROOT/../bsds500/val-*`` (centre square crops, resized
to the protocol's size); without it they fall back to scikit-image's sample
photos, so every experiment also runs offline. ``--quick`` keeps a handful of
images and few optimisation steps.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from preimage.data import iter_images
from preimage.data.images import resize
from preimage.errors import PreimageError
from preimage.experiments import Context
from preimage.files import atomic_path
from preimage.metrics import mean_colour_correlation, per_image_normalized_error, protocol_errors, psnr, ssim

if TYPE_CHECKING:
    from preimage.inverters import Inverter
    from preimage.representations.base import Representation

SIZE = 64
SET_NAMES = {"tiny-imagenet-200": "tiny-imagenet", "imagenette-224": "imagenette"}
ALEXNET_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8", "prob")


def test_sets(ctx: Context) -> dict[str, str]:
    """Name -> image spec of the test sets this run evaluates on."""
    if not ctx.data:
        return {"samples": "samples:all"}
    root = Path(ctx.data)
    if not root.is_dir():
        raise PreimageError(f"`data={root}`: not a folder — point it at the Tiny-ImageNet shard folder")
    sets = {f"{SET_NAMES.get(root.resolve().name, root.resolve().name)} val": str(root / "val-*.tar.gz")}
    bsds = root.parent / "bsds500"
    if list(bsds.glob("val-*.tar.gz")):
        sets["bsds500 val"] = str(bsds / "val-*.tar.gz")
    return sets


def first_set(ctx: Context) -> tuple[str, str]:
    name, spec = next(iter(test_sets(ctx).items()))
    return name, spec


def limit(ctx: Context, full: int, quick: int = 6) -> int:
    """Images per test set: ``--limit`` if given, else ``quick`` or ``full``."""
    given = ctx.options.get("limit")
    return int(given) if given else (quick if ctx.quick else full)


def steps(ctx: Context, full: int = 200) -> int:
    return int(ctx.options.get("steps") or (10 if ctx.quick else full))


def load_images(spec: str, n: int | None, size: int = SIZE) -> torch.Tensor:
    images = [it.image for it in iter_images([spec], size=size, fit="center", limit=n, strict=False)]
    if len(images) < 2:
        raise PreimageError(f"{spec} holds fewer than 2 readable images; the normalised error needs at least 2")
    return torch.stack(images)


def rep_for(name: str, ctx: Context) -> Any:
    from preimage.representations import create_representation

    extra: dict[str, Any] = {"weights": ctx.weights} if ":" in name else {}
    return create_representation(name, **extra)


@functools.cache
def unavailable(rep: str, method: str, size: int = SIZE) -> str | None:
    """Why ``method`` cannot invert ``rep`` of ``size``-px images here, in the inverter's own words (its
    refusal without the advice after the dash), or None when it can: nothing is silently skipped."""
    from preimage.inverters import create_inverter
    from preimage.representations import create_representation

    try:
        create_inverter(method, create_representation(rep), input_size=size)
    except PreimageError as err:
        return str(err).split(" — ")[0]
    return None


def sharp_inverter(rep: Representation, input_size: int, output_size: int) -> Inverter | str:
    """The shipped sharp decoder of ``rep`` (an :class:`~preimage.inverters.Inverter`), or the one-line reason
    none is shipped."""
    from preimage.inverters import create_inverter

    try:
        return create_inverter("decoder", rep, input_size=input_size, output_size=output_size, variant="sharp")
    except PreimageError as err:
        return str(err).split(" — ")[0]


def reconstruct(
    rep: str,
    method: str,
    images: torch.Tensor,
    ctx: Context,
    full_steps: int = 200,
    output_size: int | None = None,
) -> torch.Tensor:
    """``method``'s reconstructions of ``images`` (at ``output_size``: see
    :func:`preimage.inverters.output_size_for`); optimisation results are cached beside the experiments.

    Optimisation is the slow inverter and is deterministic given the images,
    representation, weights, steps and seed, so ``OUT/.cache`` keeps its output
    keyed by all of them: re-running an experiment after a new decoder ships
    (or building a report twice) does not redo it.
    """
    from preimage.evaluation import reconstruct as _reconstruct

    n_steps = steps(ctx, full_steps)
    run = lambda: _reconstruct(  # noqa: E731
        rep_for(rep, ctx), method, images, steps=n_steps, batch=64, seed=ctx.seed, output_size=output_size
    )
    if method != "optimize":
        return run()
    key = hashlib.sha1(images.numpy().tobytes())
    key.update(f"{rep}|{n_steps}|{ctx.seed}|{ctx.weights}|{tuple(images.shape)}|{output_size}".encode())
    path = ctx.out.parent / ".cache" / f"optimize_{key.hexdigest()[:20]}.pt"
    if path.is_file():
        return torch.load(path)
    out = run()
    with atomic_path(path) as tmp:  # an interrupted run never leaves a half-written cache entry
        torch.save(out, tmp)
    return out


def error_row(
    images: torch.Tensor, recon: torch.Tensor, seed: int, reference_scale: float | None = None
) -> dict[str, Any]:
    """Normalised reconstruction error with its bootstrap 95% interval, plus mean PSNR (dB) and SSIM.

    At the reconstructions' size, against the images downsampled to it when they are larger (the paper's
    protocol); ``normalized_error_full`` at the images' own size (see :func:`preimage.metrics.protocol_errors`).
    With ``reference_scale`` (another set's mean pairwise distance at the reconstructions' size) also
    ``error_ref_scale``: the same distances divided by that one scale, so that two test sets compare on
    one yardstick (the paper's error divides by each set's own spread, and a set of more alike photos
    scores higher for the same pixel error).

    ``error_mean_matched``: the normalised error after giving each reconstruction its image's mean colour
    (per channel; not clipped). Features built on normalised gradients (HOG, SIFT, LBP) do not encode a
    photo's brightness or colour cast, so a decoder can only guess them from its training set's prior; the
    difference from ``normalized_error`` is how much of the error is that guess.
    """
    errors = protocol_errors(images, recon, seed)
    target = resize(images, (int(recon.shape[-2]), int(recon.shape[-1])))
    row: dict[str, Any] = {
        "normalized_error": errors["normalized_error"],
        "ci_low": errors["ci95"][0],  # type: ignore[index]
        "ci_high": errors["ci95"][1],  # type: ignore[index]
        "normalized_error_full": errors["normalized_error_full"],
        "psnr": float(psnr(target, recon).mean()),
        "ssim": float(ssim(target, recon).mean()),
        "n": errors["n"],
    }
    matched = recon.float() - recon.float().mean((2, 3), keepdim=True) + target.float().mean((2, 3), keepdim=True)
    row["error_mean_matched"] = float(per_image_normalized_error(target.float(), matched).mean())
    row["colour_correlation"] = mean_colour_correlation(target, recon)
    if reference_scale is not None:
        per_image = per_image_normalized_error(target.float(), recon.float(), scale=reference_scale)
        row["error_ref_scale"] = float(per_image.mean())
    return row
