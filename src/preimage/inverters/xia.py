"""The official recipe of Xia et al. (2016), exactly as their MXNet code runs it (``--recipe xia``).

Read from github.com/xzqjack/FeatureMapInversion (``vis_invert.py``, ``vis_style.py``, ``utils.py``):

- the variable is the image in **0-255, mean-subtracted** units (RGB mean 123.68, 116.779, 103.939);
  it starts at ``U(-0.1, 0.1)``, i.e. at the mean colour;
- the loss gradient at each tapped layer is ``F - F0`` (the gradient of ``1/2 ||F - F0||^2``);
- MXNet SGD, one update per step: ``g = clip(g, -10, 10)``, ``mom = 0.9 mom - lr (g + wd x)``,
  ``x += mom``; the learning rate is 0.1 for updates 1-10 and x0.9 after every 10 more
  (``FactorScheduler(step=10, factor=0.9)``); weight decay 5e-4 for inversion, 5e-3 for style;
- at most 1000 updates, and stop as soon as ``||x_new - x_old|| / ||x_new|| < 0.005``;
- the result: add the mean, clip to 0-255, cast to uint8 (truncation), and TV-Chambolle denoise with
  weight 0.2 on the [0, 1] image; the content image's long edge is resized to 512 first
  (:func:`resize_long_edge`, ``preimage textures --long-edge 512``).

The networks here take [0, 1] images normalised with their own mean/std: the variable stays in Xia's
0-255 units and is mapped to [0, 1] (``(x + mean) / 255``) before the network, so every number above
means what it meant in their code. What still differs is listed in ``docs/feature_maps.md``.

One deviation is the default (``--recipe xia``): the recipe's constants (lr 0.1, clip 10, the stopping
rule) assume the gradient scale of Caffe's VGG-19, whose activations on 0-255 pixels are large. A network
trained on normalised [0, 1] input hands the variable gradients thousands of times smaller (median
0.002-0.024 per pixel on ``vgg19_64``, never near the clip), so the updates stay under a grey level and the
stopping rule ends the run on the starting noise. Every unit change of the network (input scaling, an
activation gain per layer) multiplies the variable's gradient by a constant, so the smallest adaptation is
that constant: each image's loss is multiplied, for its whole run, by the gain that brings the median
absolute gradient of its first update to the clip (``XiaConfig.first_gradient``). The minimiser is the
same; optimiser, schedule, clip, weight decay, stopping rule and finish are the official ones.
``--recipe xia-literal`` runs the loss unscaled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from preimage.errors import PreimageError

XIA_PIXEL_MEAN = (123.68, 116.779, 103.939)


@dataclass(frozen=True)
class XiaConfig:
    """The official settings (``vis_invert.py``); :data:`XIA_STYLE` has the weight decay of ``vis_style.py``."""

    lr: float = 0.1
    momentum: float = 0.9
    lr_factor: float = 0.9
    lr_step: int = 10
    weight_decay: float = 5e-4
    clip: float = 10.0
    max_steps: int = 1000
    stop_eps: float = 0.005
    init_range: float = 0.1
    denoise: float = 0.2
    seed: int = 0
    # None: the official loss as it is. A number: each image's loss is multiplied, for the whole run, by the
    # constant that brings the median absolute pixel gradient of its first update to this value (0-255 units),
    # so a network in other units than Caffe's VGG-19 is optimised in the regime the clip was set for
    first_gradient: float | None = None


XIA_INVERSION = XiaConfig()
XIA_STYLE = XiaConfig(weight_decay=5e-3)

# the recipe names: "xia" presents the loss to the recipe at the gradient scale its clip was set for (see
# ``XiaConfig.first_gradient``); "xia-literal" runs the official loss unscaled, whatever the network's units
XIA_RECIPES = ("xia", "xia-literal")


def as_recipe(config: XiaConfig, recipe: str) -> XiaConfig:
    """``config`` as the named recipe runs it: ``"xia"`` calibrates the first update's median gradient to the
    clip, ``"xia-literal"`` does not scale the loss."""
    if recipe not in XIA_RECIPES:
        raise PreimageError(f"unknown Xia recipe {recipe!r}; use one of {', '.join(XIA_RECIPES)}")
    return replace(config, first_gradient=config.clip if recipe == "xia" else None)


def xia_lr(update: int, cfg: XiaConfig = XIA_INVERSION) -> float:
    """Learning rate of the ``update``-th update (1-based), as MXNet's ``FactorScheduler`` gives it."""
    return cfg.lr * cfg.lr_factor ** ((update - 1) // cfg.lr_step)


def mxnet_sgd_step(
    x: torch.Tensor,
    mom: torch.Tensor,
    grad: torch.Tensor,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    clip: float = 10.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One MXNet SGD update: ``mom = momentum * mom - lr * (clip(grad) + wd * x)``, ``x = x + mom``.

    Shape:
        - x, mom, grad: any shape, all the same. Output: the new ``(x, mom)``.
    """
    g = grad.clamp(-clip, clip)
    mom = momentum * mom - lr * (g + weight_decay * x)
    return x + mom, mom


def relative_change(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """The stopping statistic per image, ``||new - old|| / ||new||``: ``(B, ...)`` -> ``(B,)``."""
    return (new - old).flatten(1).norm(dim=1) / new.flatten(1).norm(dim=1).clamp_min(1e-12)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """0-255 mean-subtracted RGB -> [0, 1] RGB (not clipped: the optimiser may leave the range)."""
    mean = torch.tensor(XIA_PIXEL_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x + mean) / 255.0


def finish(x: torch.Tensor, denoise: float = 0.2) -> torch.Tensor:
    """Xia's ``SaveImage``: add the mean, clip to 0-255, truncate to uint8, TV-Chambolle denoise in [0, 1].

    Shape:
        - Input: :math:`(B, 3, H, W)` mean-subtracted 0-255. Output: same shape in [0, 1].
    """
    mean = torch.tensor(XIA_PIXEL_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
    u8 = (x.detach().cpu() + mean).clamp(0, 255).to(torch.uint8)  # float -> uint8 truncates, as numpy's astype
    img = u8.float() / 255.0
    if denoise <= 0:
        return img.to(x.device)
    from skimage.restoration import denoise_tv_chambolle

    arr = img.numpy().transpose(0, 2, 3, 1)
    out = np.stack([denoise_tv_chambolle(a, weight=denoise, channel_axis=-1) for a in arr])
    return torch.from_numpy(out.transpose(0, 3, 1, 2).astype(np.float32)).to(x.device)


def resize_long_edge(image: torch.Tensor, long_edge: int) -> torch.Tensor:
    """Resize ``(B, 3, H, W)`` or ``(3, H, W)`` so that its longer side is ``long_edge`` (antialiased)."""
    batched = image if image.dim() == 4 else image[None]
    h, w = batched.shape[-2:]
    factor = long_edge / max(h, w)
    size = (max(1, int(h * factor)), max(1, int(w * factor)))
    out = F.interpolate(batched, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    return out if image.dim() == 4 else out[0]


# loss(images in [0, 1]) -> per-image loss (B,); its gradient w.r.t. the image is what Xia back-propagates
Objective = Callable[[torch.Tensor], torch.Tensor]


class XiaInverter(nn.Module):
    """Run Xia et al.'s optimisation on any objective of [0, 1] images.

    Each image of the batch is its own run: it stops on its own relative change and is frozen from then
    on, so a batch gives what one call per image would.

    Args:
        objective: per-image loss ``(B,)`` of [0, 1] images, e.g. :func:`half_squared_objective`.
        config: :class:`XiaConfig` (default :data:`XIA_INVERSION`).

    Shape:
        - Input (:meth:`forward`): the batch size and image size.
        - Output: :math:`(B, 3, H, W)` in [0, 1].
    """

    def __init__(self, objective: Objective, config: XiaConfig = XIA_INVERSION) -> None:
        super().__init__()
        self.objective, self.config = objective, config
        self.steps: list[int] = []  # updates each image ran
        self.last_change: list[float] = []
        self.gains: list[float] = []  # the loss gain of each image (see ``XiaConfig.first_gradient``)

    def forward(self, batch: int, size: int | tuple[int, int], device: torch.device | str = "cpu") -> torch.Tensor:
        c = self.config
        h, w = (size, size) if isinstance(size, int) else size
        gen = torch.Generator().manual_seed(c.seed)
        x = ((torch.rand(batch, 3, h, w, generator=gen) * 2 - 1) * c.init_range).to(device)
        mom = torch.zeros_like(x)
        running = torch.ones(batch, dtype=torch.bool, device=x.device)
        steps = torch.zeros(batch, dtype=torch.long)
        change = torch.full((batch,), float("inf"))
        gain: torch.Tensor | None = None
        for update in range(1, c.max_steps + 1):
            xv = x.detach().requires_grad_(True)
            loss = self.objective(to_unit(xv))
            if not torch.isfinite(loss).all():
                raise PreimageError("the Xia recipe diverged (loss is NaN/Inf)")
            (grad,) = torch.autograd.grad(loss.sum(), xv)
            if c.first_gradient is not None:
                if gain is None:
                    gain = gradient_gain(grad, c.first_gradient)
                    self.gains = gain.flatten().tolist()
                grad = grad * gain
            new_x, new_mom = mxnet_sgd_step(x, mom, grad, xia_lr(update, c), c.momentum, c.weight_decay, c.clip)
            keep = running.view(-1, 1, 1, 1)
            moved = relative_change(x, new_x)
            x = torch.where(keep, new_x, x)
            mom = torch.where(keep, new_mom, mom)
            steps[running.cpu()] = update
            change = torch.where(running.cpu(), moved.cpu(), change)
            running = running & (moved >= c.stop_eps)
            if not running.any():
                break
        self.steps, self.last_change = steps.tolist(), change.tolist()
        return finish(x, c.denoise)


def gradient_gain(grad: torch.Tensor, target: float) -> torch.Tensor:
    """Per image, ``target / median |grad|`` ``(B, 1, 1, 1)`` (1 where the gradient is all zero).

    Shape:
        - Input: :math:`(B, ...)`. Output: :math:`(B, 1, 1, 1)`.
    """
    median = grad.detach().abs().flatten(1).median(dim=1).values
    gain = torch.where(median > 0, target / median.clamp_min(1e-30), torch.ones_like(median))
    return gain.view(-1, 1, 1, 1)


def half_squared_objective(encoder: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor) -> Objective:
    """``1/2 ||encoder(x) - target||^2`` per image: the gradient at the code is ``F - F0`` (``vis_invert.py``)."""
    target = target.detach()

    def loss(images: torch.Tensor) -> torch.Tensor:
        return 0.5 * (encoder(images) - target).flatten(1).square().sum(1)

    return loss


def xia_invert(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    target: torch.Tensor,
    size: int | tuple[int, int],
    config: XiaConfig = XIA_INVERSION,
    **overrides: float | int | None,
) -> torch.Tensor:
    """Functional form: invert ``target`` codes ``(B, ...)`` of ``encoder`` with the official recipe.

    A representation with a differentiable surrogate (``for_optimization()``, e.g. HOG) is optimised
    through it, as :class:`~preimage.inverters.optimize.OptimizationInverter` does.
    """
    cfg = replace(config, **overrides) if overrides else config  # type: ignore[arg-type]
    if getattr(encoder, "differentiable", True) is False:
        raise PreimageError(f"{getattr(encoder, 'name', encoder)} is not differentiable — use `method=decoder`")
    surrogate = getattr(encoder, "for_optimization", None)
    enc = surrogate() if callable(surrogate) else encoder
    return XiaInverter(half_squared_objective(enc, target), cfg)(target.shape[0], size, target.device)


def xia_style_objective(
    features: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    content_layer: str,
    content_target: torch.Tensor,
    style_targets: dict[str, torch.Tensor],
    content_weight: float = 10.0,
    style_weight: float = 1.0,
) -> Objective:
    """``vis_style.py --mod_type purposeful_optimization``: the loss whose gradient the official code feeds back.

    Content: ``content_weight / (2 HW) ||F - F0||^2`` at ``content_layer``. Style, per layer:
    ``style_weight / (2 C HW) ||sum_p F(p) - s||^2`` with ``s`` the style image's per-channel sums
    ``(B, C)``.
    """
    content_target = content_target.detach()

    def loss(images: torch.Tensor) -> torch.Tensor:
        feats = features(images)
        fc = feats[content_layer]
        hw = fc[0, 0].numel()
        total = content_weight * 0.5 * (fc - content_target).flatten(1).square().sum(1) / hw
        for name, target in style_targets.items():
            f = feats[name]
            c, hw_l = f.shape[1], f[0, 0].numel()
            sums = f.flatten(2).sum(2)
            total = total + style_weight * 0.5 * (sums - target).square().sum(1) / (c * hw_l)
        return total

    return loss
