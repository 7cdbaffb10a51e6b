"""The linear baseline: ridge regression from a representation's code to the image, in closed form.

Every learned decoder has to beat it: what a linear map can read off the code (a colour thumbnail from fc8's
logits, a blurry layout from HOG) is not evidence of a decoder's skill. The map reads the code through
:class:`~preimage.inverters.decoders.LinearDecoder` (spatial codes average-pooled to at most
:data:`~preimage.inverters.decoders.LINEAR_MAX_FEATURES` values) and predicts a ``thumbnail_size`` RGB thumbnail
(the image box-averaged), upsampled bilinearly to the output size.

The fit accumulates the normal equations over the training images in float64, once for a fitting split and
once for a held-out split; one eigendecomposition then prices every ridge strength on the held-out split, and
the best one is solved again on all the images.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from preimage import options as check
from preimage import zoo
from preimage.data import materialize
from preimage.errors import PreimageError
from preimage.files import dumps, write_json, write_text
from preimage.inverters.decoders import Decoder, DecoderArch, LinearDecoder, transform_codes
from preimage.options import option
from preimage.representations.base import Representation
from preimage.training.common import CodeConfig, export_safetensors, seed_everything
from preimage.training.decoder import dataset_name, evaluate_decoder, make_encoder

# ridge strengths tried, relative to the mean variance of one code feature (so they mean the same at every layer)
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass(kw_only=True)
class LinearConfig(CodeConfig):
    """The settings of ``fit-linear``: one field per option (see :mod:`preimage.options`)."""

    thumbnail_size: int = option(8, "side of the thumbnail the matrix predicts", parse=check.positive)
    limit_train: int | None = 50_000
    holdout: float = option(0.1, "fraction of the training images that picks the ridge strength", parse=check.fraction)
    # relative to the mean variance of one code feature, so they mean the same at every layer
    alphas: tuple[float, ...] = option(ALPHAS, "ridge strengths tried", cli=False)
    batch_size: int = option(250, "images per batch of codes", parse=check.positive)


@dataclass
class NormalEquations:
    """Sums over ``n`` samples of features ``x`` and targets ``y``: ``x``, ``y``, ``x x^T``, ``x y^T``, ``|y|^2``
    (float64), from which centred least squares of any ridge strength follows."""

    n: int = 0
    sx: torch.Tensor | None = None
    sy: torch.Tensor | None = None
    xx: torch.Tensor | None = None
    xy: torch.Tensor | None = None
    yy: float = 0.0

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        x, y = x.double(), y.double()
        if self.xx is None:
            self.sx, self.sy = x.new_zeros(x.shape[1]), y.new_zeros(y.shape[1])
            self.xx, self.xy = x.new_zeros(x.shape[1], x.shape[1]), x.new_zeros(x.shape[1], y.shape[1])
        assert self.sx is not None and self.sy is not None and self.xy is not None
        self.n += len(x)
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.xx += x.T @ x
        self.xy += x.T @ y
        self.yy += float((y * y).sum())

    def __add__(self, other: NormalEquations) -> NormalEquations:
        assert self.xx is not None and other.xx is not None
        return NormalEquations(
            self.n + other.n, self.sx + other.sx, self.sy + other.sy,  # type: ignore[operator]
            self.xx + other.xx, self.xy + other.xy, self.yy + other.yy,  # type: ignore[operator]
        )  # fmt: skip

    def centred(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Means of ``x`` and ``y``, and the centred ``x x^T`` and ``x y^T``."""
        assert self.xx is not None and self.sx is not None and self.sy is not None and self.xy is not None
        mx, my = self.sx / self.n, self.sy / self.n
        return mx, my, self.xx - self.n * torch.outer(mx, mx), self.xy - self.n * torch.outer(mx, my)


def ridge_path(fit: NormalEquations, alphas: tuple[float, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Ridge solutions ``(W, b)`` (``y ~ x W + b``) of ``fit``'s centred normal equations, one per strength
    ``alpha`` times the mean feature variance: ``W = (Sxx + lambda I)^-1 Sxy``, ``b = my - mx W``."""
    mx, my, sxx, sxy = fit.centred()
    evals, evecs = torch.linalg.eigh(sxx)
    rotated = evecs.T @ sxy
    scale = float(sxx.diagonal().mean())
    out = []
    for alpha in alphas:
        w = evecs @ (rotated / (evals.clamp_min(0) + alpha * scale).unsqueeze(1))
        out.append((w, my - mx @ w))
    return out


def squared_error(stats: NormalEquations, w: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over samples of ``|y - (x W + b)|^2``, from ``stats``'s sums alone."""
    assert stats.xx is not None and stats.sx is not None and stats.sy is not None and stats.xy is not None
    pred_sq = float((w * (stats.xx @ w)).sum() + 2 * (stats.sx @ w) @ b + stats.n * (b @ b))
    cross = float((w * stats.xy).sum() + stats.sy @ b)
    return (stats.yy - 2 * cross + pred_sq) / stats.n


@torch.no_grad()
def normal_equations(
    net: LinearDecoder, rep: Representation, images: torch.Tensor, transform: str, batch: int
) -> NormalEquations:
    """Accumulate features (the code as ``net`` reads it) against thumbnails of uint8 ``images``."""
    stats = NormalEquations()
    for i in range(0, len(images), batch):
        x = images[i : i + batch].float() / 255.0
        codes = transform_codes(rep(x), transform)
        thumbs = nn.functional.adaptive_avg_pool2d(x, net.thumbnail_size).flatten(1)
        stats.add(net.features(codes.float()), thumbs)
    return stats


def _code_shape(rep: Representation, size: int) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(rep(torch.zeros(1, 3, size, size)).shape[1:])


def fit_linear(cfg: LinearConfig, overwrite: bool = False, strict: bool = False) -> dict[str, Any]:
    """Fit, export and measure the linear decoder of ``cfg.rep``; returns the summary written beside it."""
    start = time.perf_counter()
    run = Path(cfg.out)
    rep = make_encoder(cfg.rep, False, cfg.encoder_weights).eval()
    name = zoo.file_name("decoder", rep.name, cfg.input_size, "linear")
    if (run / name).exists() and not overwrite:
        raise PreimageError(f"{run / name} exists; pass `overwrite` to replace it")
    generator = seed_everything(cfg.seed)
    side = cfg.input_size
    arch = DecoderArch(rep.name, _code_shape(rep, side), cfg.output_size or side, input_size=side, network="linear")
    decoder = Decoder(replace(arch, thumbnail_size=cfg.thumbnail_size))
    decoder.encoder_sha256 = getattr(rep, "weights_sha256", None)
    decoder.code_transform = cfg.code_transform
    root = Path(cfg.data)
    train_x, _ = materialize(
        str(root / cfg.train_pattern), cfg.input_size, "center", cfg.limit_train, cfg.cache_dir, strict
    )
    order = torch.randperm(len(train_x), generator=generator)
    n_hold = max(1, int(len(train_x) * cfg.holdout))
    net = decoder.net
    assert isinstance(net, LinearDecoder)
    held = normal_equations(net, rep, train_x[order[:n_hold]], cfg.code_transform, cfg.batch_size)
    fit = normal_equations(net, rep, train_x[order[n_hold:]], cfg.code_transform, cfg.batch_size)
    outputs = 3 * cfg.thumbnail_size**2
    holdout_mse = [squared_error(held, w, b) / outputs for w, b in ridge_path(fit, cfg.alphas)]
    best = cfg.alphas[min(range(len(cfg.alphas)), key=holdout_mse.__getitem__)]
    (w, b), *_ = ridge_path(fit + held, (best,))
    net.linear.weight.data.copy_(w.T)
    net.linear.bias.data.copy_(b)
    path = export_safetensors(decoder.state_dict(), run / name, fp16=True, metadata={"config": dumps(decoder.config())})
    shipped = Decoder.from_file(path)
    val_x, _ = materialize(str(root / cfg.val_pattern), cfg.input_size, "center", None, cfg.cache_dir, strict)
    summary: dict[str, Any] = {
        "rep": rep.name,
        "method": "linear",
        "input_size": cfg.input_size,
        "output_size": shipped.output_size,
        "thumbnail_size": cfg.thumbnail_size,
        "pool_grid": net.grid,
        "features": net.linear.in_features,
        "train_images": len(train_x),
        "alphas": dict(zip(map(str, cfg.alphas), (round(m, 6) for m in holdout_mse), strict=True)),
        "alpha": best,
        "val_set": dataset_name(cfg.data),
        "val": evaluate_decoder(shipped, rep, val_x),
        "encoder_sha256": shipped.encoder_sha256,
        "code_transform": cfg.code_transform,
        "weights": str(path),
        "size_mb": round(path.stat().st_size / 2**20, 2),
    }
    bsds = root.parent / "bsds500" / "val-0000.tar.gz"
    if bsds.is_file():
        bx, _ = materialize(str(bsds), cfg.input_size, "center", None, cfg.cache_dir, strict)
        summary["bsds500_val"] = evaluate_decoder(shipped, rep, bx)
    summary["wall_min"] = round((time.perf_counter() - start) / 60, 1)
    write_json(run / "summary.json", summary)
    write_linear_card(path.with_suffix(".md"), cfg, summary)
    print(dumps(summary), flush=True)
    return summary


def write_linear_card(path: Path, cfg: LinearConfig, summary: dict[str, Any]) -> None:
    from preimage.training.decoder import DATASETS

    folder = summary["val_set"]
    data, _, terms = DATASETS.get(folder, (folder, "", "the data set's own terms"))
    val, bsds = summary["val"], summary.get("bsds500_val")
    pooled = (
        f", its maps average-pooled to {summary['pool_grid']}x{summary['pool_grid']}" if summary["pool_grid"] else ""
    )
    flags = f" --size {cfg.input_size}" if cfg.input_size != 64 else ""
    flags += f" --output-size {cfg.output_size}" if cfg.output_size else ""
    flags += f" --code-transform {cfg.code_transform}" if cfg.code_transform != "identity" else ""
    flags += f" --weights {cfg.encoder_weights}" if cfg.encoder_weights != "default" else ""
    flags += f" --limit-train {cfg.limit_train}" if cfg.limit_train != 50_000 else ""
    sha = summary.get("encoder_sha256")
    t, at = cfg.thumbnail_size, f" at {cfg.input_size} px" if cfg.input_size != 64 else ""
    lines = [
        f"# Linear decoder (ridge regression) for `{summary['rep']}`{at}",
        "",
        f"- **Task**: the control every learned decoder must beat: one matrix from the code{pooled} "
        f"({summary['features']} values) to a {t}x{t} RGB thumbnail, upsampled bilinearly to "
        f"{summary['output_size']} px.",
        f"- **Fit**: ridge regression in closed form on {summary['train_images']:,} {data} training images "
        f"({terms}); strength {summary['alpha']:g} x the mean code variance, picked on {cfg.holdout:.0%} of them "
        f"held out, then refit on all; {summary['wall_min']} min on a 2-core CPU; fp16 safetensors "
        f"({summary['size_mb']} MB).",
        *([f"- **Network weights** (SHA-256 of the file the codes came from): `{sha}`"] if sha else []),
        "- **Normalised reconstruction error**:",
        f"  - {folder} val, {val['n']} images: **{val['normalized_error']:.3f}** "
        f"(95% CI {val['ci95'][0]:.3f}-{val['ci95'][1]:.3f})",
        f"  - BSDS500 val, {bsds['n']} centre crops: **{bsds['normalized_error']:.3f}**"
        if bsds
        else "  - BSDS500 val: not measured",
        f"- **Reproduce**: `preimage fit-linear --rep {summary['rep']} --data {cfg.data}{flags} -o {cfg.out}`",
    ]
    write_text(path, "\n".join(lines) + "\n")
