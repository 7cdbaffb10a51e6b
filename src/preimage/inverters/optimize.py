"""Optimisation inversion (Mahendran & Vedaldi 2015/2016): gradient descent on the image.

Finds ``x`` minimising, independently for every image of a batch,

    E(x) = ||Phi(x) - Phi_0||^2 / ||Phi_0||^2  +  lambda_a R_a(x)  +  lambda_tv R_tv(x)

with the IJCV normalisation, so the weights do not depend on the image size:
``R_a = sum |x - m|^a / (H W B^a)`` (an alpha-norm prior on the mean-centred
image; ``B`` is the typical pixel magnitude, 80/255 for mean-subtracted
images) and ``R_tv = sum ((dx)^2 + (dy)^2)^(beta/2) / (H W V^beta)``,
``V = B / 6.5``. Jitter shifts the image by a random offset before each
evaluation of ``Phi``. Defaults: alpha = 6, beta = 2.

Xia et al.'s (2016) recipe for feature-map inversion is not a preset of this class: it runs exactly as
their MXNet code in :mod:`preimage.inverters.xia` (``--recipe xia``, ``invert --preset xia``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from preimage.errors import PreimageError

Encoder = Callable[[torch.Tensor], torch.Tensor]
B_DEFAULT = 80.0 / 255.0


def alpha_norm(x: torch.Tensor, alpha: float = 6.0, bound: float = B_DEFAULT) -> torch.Tensor:
    """Normalised alpha-norm prior per image: ``sum |x|^alpha / (H W bound^alpha)``.

    Shape:
        - Input: :math:`(B, C, H, W)` (already mean-centred). Output: :math:`(B,)`.
    """
    h, w = x.shape[-2:]
    t = x / bound
    if alpha == 6.0:  # the default: three multiplications are several times cheaper than pow (and its grad)
        t2 = t * t
        powered = t2 * t2 * t2
    else:
        powered = t.abs().pow(alpha)
    return powered.flatten(1).sum(1) / (h * w)


def total_variation(x: torch.Tensor, beta: float = 2.0, v: float = B_DEFAULT / 6.5) -> torch.Tensor:
    """Normalised TV^beta prior per image.

    ``sum_ij ((x_{i,j+1} - x_ij)^2 + (x_{i+1,j} - x_ij)^2)^(beta/2) / (H W V^beta)``.

    Forward differences on the common ``(H-1) x (W-1)`` grid, summed over colour channels.

    Shape:
        - Input: :math:`(B, C, H, W)`. Output: :math:`(B,)`.
    """
    h, w = x.shape[-2:]
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    sq = (dx * dx + dy * dy) / (v * v)
    per_pixel = sq if beta == 2.0 else (sq + 1e-12).pow(beta / 2)
    return per_pixel.flatten(1).sum(1) / (h * w)


def normalized_feature_loss(code: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``||code - target||^2 / ||target||^2`` per item, ``(B,)``."""
    diff = (code - target).flatten(1)
    return diff.square().sum(1) / target.flatten(1).square().sum(1).clamp_min(1e-12)


def half_squared_loss(code: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1/2 ||code - target||^2`` per item (Xia et al.)."""
    return 0.5 * (code - target).flatten(1).square().sum(1)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "normalized": normalized_feature_loss,
    "half_squared": half_squared_loss,
}


@dataclass(frozen=True)
class OptimizeConfig:
    """Settings of :class:`OptimizationInverter` (defaults: Mahendran & Vedaldi, IJCV normalisation)."""

    steps: int = 300
    optimizer: str = "adam"  # adam | sgd | lbfgs
    lr: float = 0.02
    momentum: float = 0.9
    lr_decay: float = 1.0  # multiply lr by this every lr_step steps (sgd/adam)
    lr_step: int = 10
    loss: str = "normalized"  # normalized | half_squared
    alpha: float = 6.0
    beta: float = 2.0
    lambda_alpha: float = 1e-5
    lambda_tv: float = 0.005
    bound: float = B_DEFAULT
    jitter: int = 0  # pixels; Mahendran & Vedaldi use a few for CNN layers
    grad_clip: float | None = None
    grad_clip_mode: str = "value"  # value: clamp every pixel's gradient to +-grad_clip; norm: per-image L2
    tol: float = 1e-4  # stop when the relative change of the objective stays below tol ...
    patience: int = 20  # ... for this many consecutive steps
    stop_on: str = "loss"  # loss: relative change of the objective; image: max over images of |dx| / |x|
    init: str = "random"  # random (N(0, 0.01) around the mean) | uniform (+-0.1) | mean
    init_scale: float = 0.1
    min_steps: int = 0  # never stop before this many steps
    # The variable is optimised in units of 1/pixel_scale of the [0, 1] range: 255 reproduces recipes
    # written for 0-255 mean-subtracted (Caffe) images, such as Xia et al.'s lr 0.1 and clip 10.
    pixel_scale: float = 1.0
    mean: float = 0.5  # the centre pixel value the priors are measured from
    denoise: float = 0.0  # TV (Chambolle) weight applied to the final images, 0 = off
    surrogate: bool = True  # use the representation's for_optimization() gradients when it has them
    seed: int = 0
    progress: bool = True


PRESETS = {"mahendran": OptimizeConfig()}


class OptimizationInverter(nn.Module):
    """Invert any differentiable representation by gradient descent on the image.

    Args:
        encoder: ``Phi``, a module/function ``(B, 3, H, W)`` in ``[0, 1]`` -> codes.
        config: an :class:`OptimizeConfig` (or the preset name ``"mahendran"``).

    Shape:
        - Input (:meth:`forward`): target codes ``(B, ...)`` as produced by ``encoder``, and the image size.
        - Output: images ``(B, 3, H, W)`` in ``[0, 1]``.

    Example:
        >>> from preimage.representations import HOG
        >>> inv = OptimizationInverter(HOG(), OptimizeConfig(steps=5, progress=False))
        >>> inv(HOG()(torch.rand(2, 3, 32, 32)), 32).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, encoder: Encoder, config: OptimizeConfig | str | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            # the representation's own tuned settings (e.g. jitter and stronger TV for CNN layers)
            config = replace(OptimizeConfig(), **getattr(encoder, "optimize_defaults", {}))
        elif isinstance(config, str):
            if config not in PRESETS:
                hint = " (Xia et al.'s recipe: preimage.inverters.xia.xia_invert)" if config == "xia" else ""
                raise PreimageError(f"unknown preset {config!r}; use one of {', '.join(PRESETS)}{hint}")
            config = PRESETS[config]
        self.config = replace(config, **overrides) if overrides else config
        if getattr(encoder, "differentiable", True) is False:
            raise PreimageError(
                f"{getattr(encoder, 'name', encoder)} is not differentiable, so optimisation "
                "cannot invert it — use `method=decoder`"
            )
        surrogate = getattr(encoder, "for_optimization", None)
        self.encoder = surrogate() if self.config.surrogate and callable(surrogate) else encoder
        self.history: list[float] = []

    def _init(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.init == "random":
            return torch.randn(shape, generator=gen) * 0.01
        if c.init == "uniform":
            return (torch.rand(shape, generator=gen) * 2 - 1) * c.init_scale
        if c.init == "mean":
            return torch.zeros(shape)
        raise PreimageError(f"unknown init {c.init!r}; use random, uniform or mean")

    def objective(self, z: torch.Tensor, target: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        """Per-image objective ``(B,)`` for mean-centred images ``z``."""
        c = self.config
        z = z / c.pixel_scale
        x = z + c.mean
        if c.jitter and gen is not None:
            dy, dx = (int(v) for v in torch.randint(-c.jitter, c.jitter + 1, (2,), generator=gen))
            x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
        loss = LOSSES[c.loss](self.encoder(x), target)
        if c.lambda_alpha:
            loss = loss + c.lambda_alpha * alpha_norm(z, c.alpha, c.bound)
        if c.lambda_tv:
            loss = loss + c.lambda_tv * total_variation(z, c.beta, c.bound / 6.5)
        return loss

    def forward(
        self, target: torch.Tensor, image_size: int | tuple[int, int], start: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Images ``(B, 3, H, W)`` whose codes match ``target``; ``start`` (images in ``[0, 1]``) replaces the
        configured initialisation."""
        c = self.config
        if c.loss not in LOSSES:
            raise PreimageError(f"unknown loss {c.loss!r}; use one of {', '.join(LOSSES)}")
        if not torch.isfinite(target).all():
            raise PreimageError("target code contains NaN or Inf — check the features")
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        target = target.detach()
        expected = getattr(self.encoder, "out_shape", None)
        if expected is not None and tuple(target.shape[1:]) != tuple(expected((h, w))):
            raise PreimageError(
                f"target code has shape {tuple(target.shape[1:])} but the representation gives "
                f"{tuple(expected((h, w)))} at {h}x{w} — pass the matching `input_size`"
            )
        gen = torch.Generator().manual_seed(c.seed)
        if start is not None and tuple(start.shape) != (target.shape[0], 3, h, w):
            raise PreimageError(f"start images have shape {tuple(start.shape)}, expected {(target.shape[0], 3, h, w)}")
        z0 = (start - c.mean) * c.pixel_scale if start is not None else self._init((target.shape[0], 3, h, w), gen)
        z = z0.detach().clone().to(target.device).requires_grad_(True)
        opt = self._optimizer(z)
        self.history = []
        calm = 0
        bar = tqdm(range(c.steps), desc="optimising", disable=not c.progress, leave=False)
        for step in bar:
            if c.optimizer in ("sgd", "adam") and c.lr_decay != 1.0 and step and step % c.lr_step == 0:
                for group in opt.param_groups:
                    group["lr"] *= c.lr_decay

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                total = self.objective(z, target, gen).sum()
                total.backward()
                if c.grad_clip is not None:
                    if c.grad_clip_mode == "norm":
                        clip_per_image(z, c.grad_clip)
                    else:
                        torch.nn.utils.clip_grad_value_([z], c.grad_clip)
                return total

            before = z.detach().clone() if c.stop_on == "image" else None
            stepped = opt.step(closure) if c.optimizer == "lbfgs" else self._step(opt, closure)  # type: ignore[arg-type]
            value = float(torch.as_tensor(stepped).detach())
            if not math.isfinite(value):
                raise PreimageError("optimisation diverged (loss is NaN/Inf) — lower `lr`")
            if before is not None:
                moved = (z.detach() - before).flatten(1).norm(dim=1) / z.detach().flatten(1).norm(dim=1).clamp_min(
                    1e-12
                )
                calm = calm + 1 if float(moved.max()) < c.tol else 0
            elif self.history:
                change = abs(self.history[-1] - value) / max(abs(self.history[-1]), 1e-12)
                calm = calm + 1 if change < c.tol else 0
            self.history.append(value)
            bar.set_postfix(loss=f"{value / target.shape[0]:.4f}", refresh=False)
            if calm >= c.patience and step + 1 >= c.min_steps:
                break
        images = (z.detach() / c.pixel_scale + c.mean).clamp(0, 1)
        return denoise_tv(images, c.denoise) if c.denoise > 0 else images

    @staticmethod
    def _step(opt: torch.optim.Optimizer, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        value = closure()
        opt.step()
        return value.detach()

    def _optimizer(self, z: torch.Tensor) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "adam":
            return torch.optim.Adam([z], lr=c.lr)
        if c.optimizer == "sgd":
            return torch.optim.SGD([z], lr=c.lr, momentum=c.momentum)
        if c.optimizer == "lbfgs":
            return torch.optim.LBFGS([z], lr=c.lr, max_iter=1, history_size=20, line_search_fn="strong_wolfe")
        raise PreimageError(f"unknown optimizer {c.optimizer!r}; use adam, sgd or lbfgs")


def clip_per_image(z: torch.Tensor, max_norm: float) -> None:
    """Scale each image's gradient down to at most ``max_norm`` (L2), in place."""
    if z.grad is None:
        return
    norms = z.grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    factor = (max_norm / norms).clamp(max=1.0)
    z.grad.mul_(factor.view(-1, *([1] * (z.dim() - 1))))


def denoise_tv(images: torch.Tensor, weight: float) -> torch.Tensor:
    """TV (Chambolle) denoising of ``(B, 3, H, W)`` images with scikit-image."""
    from skimage.restoration import denoise_tv_chambolle

    arr = images.detach().cpu().numpy().transpose(0, 2, 3, 1)
    out = np.stack([denoise_tv_chambolle(a, weight=weight, channel_axis=-1) for a in arr])
    return torch.from_numpy(out.transpose(0, 3, 1, 2).astype(np.float32)).to(images.device, images.dtype)


def invert_optimize(
    encoder: Encoder,
    target: torch.Tensor,
    image_size: int | tuple[int, int],
    config: OptimizeConfig | str | None = None,
    **overrides: Any,
) -> torch.Tensor:
    """Functional form of :class:`OptimizationInverter`."""
    return OptimizationInverter(encoder, config, **overrides)(target, image_size)
