"""DeePSiM (Dosovitskiy & Brox, NIPS 2016): decoders trained with a loss in a comparator network's feature
space and an adversarial term, so they paint sharp, natural detail instead of the blurred mean that pixel MSE
asks for.

The generator (the decoder ``G``) minimises, per image,

    lambda_feat ||C(G(phi)) - C(x)||^2 + lambda_adv (-log D(G(phi))) + lambda_img ||G(phi) - x||^2
        + lambda_low ||P(G(phi) - x)||^2

with ``C`` the comparator (alexnet64's conv5 features, the paper's layer, unless told otherwise; frozen), and ``D``
a small convolutional discriminator trained in alternation to tell photos from reconstructions. The last term is not
the paper's (``lambda_low`` 0 drops it): ``P`` is a Gaussian blur (sigma LOWPASS_SIGMA px, mirrored borders), so it
weighs only the coarse image, in the same units as the pixel term (a constant error costs the same in both). Pixel
error that a sharp decoder pays for detail is cheap (fine texture has little energy); what costs error is the colour
and layout the adversarial term lets drift, and this term holds those to the photo's while leaving the detail to the
other terms. What it leaves free is fine detail, and a strong hold lets a decoder spend that freedom on one texture
for every image (a stride-2 transposed-convolution decoder's 4-px grid, a resize-convolution decoder's stamp): the
shipped decoders do not use it (their cards give the runs).
Squared norms are summed over a sample's values and halved, and averaged over the batch, as Caffe's Euclidean loss
the paper used.

The paper's weights (lambda_feat 0.01, lambda_adv 100, lambda_img 2e-6) are for Caffe's 0-255, mean-subtracted
pixels. Here images are in [0, 1]: a pixel difference is 255 times smaller, so lambda_img becomes
2e-6 * 255^2 = 0.13; the comparator sees ``(x - mean) / std`` (std about 0.226), so its first layer's input is
255 * 0.226 = 58 times smaller than Caffe AlexNet's and, its layers being positively homogeneous up to their
biases, its features about as much: lambda_feat becomes 0.01 * 58^2 = 33. The adversarial term has no unit:
lambda_adv stays 100. These are starting points for a sweep (``--deepsim-weights``).

The pixel terms may compare with a trained MSE decoder's output (``--teacher``) instead of the photo: where that
decoder predicts E[x | code], ``E||G - x||^2 = ||G - E[x | code]||^2 + const``, so the loss is the same in
expectation, but its gradients no longer carry the photo's unpredictable part, noise as large as the error itself
that would swamp the other terms' share of Adam's normalised step.

Two further options are not the paper's. ``texture`` adds ``lambda_tex sum_l ||Gram(C_l(G(phi))) - Gram(C_l(x))||^2``
over the comparator network's first two layers (Gatys et al. 2015; EnhanceNet's texture loss): how much of which edges
a reconstruction holds, wherever they lie. A blurred mean scores as far from its photo on it as an unrelated photo
does, so it asks for the photo's amount of detail without asking where, which no code above conv1 says. ``patch``
makes the discriminator judge 22-px patches, one logit each (see :class:`Discriminator`).

Stabilisation as in the paper: the discriminator is not updated while its loss is below
``pause_ratio`` times the generator's adversarial loss (it already wins too easily). Optionally (``r1``, not the
paper's) the R1 penalty of Mescheder et al. (ICML 2018), ``r1 / 2 * E ||grad_x D(x)||^2`` over photos ``x``: a
discriminator whose logit is flat around the photos offers the decoder no single direction, such as one stroke
painted on every image, that makes any reconstruction look real.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from preimage.data.images import gaussian_blur
from preimage.errors import PreimageError
from preimage.inverters.feature_maps import gram_matrix
from preimage.representations.base import Representation
from preimage.representations.cnn import LayerTap

# re-derived for [0, 1] images from the paper's Caffe values (see the module docstring)
PAPER_WEIGHTS = (33.0, 100.0, 0.13)  # feature, adversarial, image
LOWPASS_SIGMA = 2.0  # px; the low-pass term keeps periods above ~8 px (response 0.29 at 8 px, 0.73 at 16 px)
COMPARATOR = "alexnet64:conv5"  # the paper's choice
COMPARATORS = tuple(f"alexnet64:conv{i}" for i in range(2, 6))
TEXTURE_LAYERS = ("conv1", "conv2")  # the comparator network's, fine enough for 1-4 px detail
DISCRIMINATORS = ("global", "patch")  # one logit per image (the paper's), or per patch (see Discriminator)


@dataclass(frozen=True)
class DeepsimConfig:
    feat: float = PAPER_WEIGHTS[0]
    adv: float = PAPER_WEIGHTS[1]
    img: float = PAPER_WEIGHTS[2]
    low: float = 0.0  # the low-pass pixel term (not the paper's)
    conditional: bool = False  # the discriminator also sees the code
    pause_ratio: float = 0.1  # D pauses while its loss < pause_ratio x G's adversarial loss
    lr_ratio: float = 1.0  # D's learning rate over G's
    r1: float = 0.0  # weight of the R1 penalty on D's gradient at the photos (not the paper's)
    patch: bool = False  # D judges 22-px patches (PatchGAN), not whole images (not the paper's)
    texture: float = 0.0  # weight of the Gram-matrix texture term (not the paper's)


def parse_weights(text: str) -> tuple[float, float, float, float]:
    """``"33,100,0.13"`` or ``"33,100,0.13,10"`` -> (feature, adversarial, image, low-pass) weights, each >= 0,
    not all 0; the low-pass weight defaults to 0 (the paper's loss)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (3, 4) or min(values) < 0 or max(values) == 0 or not all(map(math.isfinite, values)):
        raise PreimageError(
            f"`deepsim_weights={text}`: expected three or four weights FEAT,ADV,IMG[,LOW] >= 0, e.g. "
            f"{','.join(f'{w:g}' for w in PAPER_WEIGHTS)} (the paper's, for [0, 1] images)"
        )
    return values[0], values[1], values[2], values[3] if len(values) == 4 else 0.0


class Discriminator(nn.Module):
    """A small convolutional critic of ``S x S`` images (``S`` >= 16), in one of two forms.

    - ``patch=False``: four stride-2 convolutions, global average pooling, one logit per image.
    - ``patch=True`` (pix2pix's PatchGAN, Isola et al. 2017): three stride-2 convolutions and a 1x1 convolution,
      one logit per overlapping 22-px patch (its receptive field). Each patch is judged on its own, so the critic
      models local texture and edges, the part of an image that the pixel terms leave to it, and not the layout.

    With ``code_features`` the code enters through a linear layer, concatenated to the pooled features (or to
    every patch's) before the logit.

    Shape:
        - Input: :math:`(B, 3, S, S)` in ``[0, 1]`` (and codes :math:`(B, *code\\_shape)`).
        - Output: :math:`(B,)`, or :math:`(B, S/8, S/8)` with ``patch``.
    """

    def __init__(self, width: int = 32, code_features: int = 0, patch: bool = False) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width] + ([] if patch else [8 * width])
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.patch = patch
        self.code = nn.Linear(code_features, chans[-1]) if code_features else None
        joint = chans[-1] * (2 if code_features else 1)
        self.head: nn.Module = nn.Conv2d(joint, 1, 1) if patch else nn.Linear(joint, 1)

    def forward(self, images: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(images * 2 - 1)
        if not self.patch:
            h = h.mean((2, 3))
        if self.code is not None:
            if codes is None:
                raise PreimageError("a conditional discriminator needs the codes")
            c = F.leaky_relu(self.code(codes.flatten(1).float()), 0.2)
            h = torch.cat([h, c[:, :, None, None].expand(-1, -1, *h.shape[2:]) if self.patch else c], 1)
        return self.head(h).squeeze(1)


def _half_sum_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Caffe's Euclidean loss: ``||a - b||^2 / 2`` per sample, averaged over the batch."""
    return (a - b).pow(2).flatten(1).sum(1).mean() / 2


def texture_error(tap: LayerTap, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Halved squared distance between the Gram matrices of ``tap``'s layers on reconstructions and photos, summed
    over the layers: how far each reconstruction's texture statistics (which edges and how strong, wherever they
    lie; Gatys et al. 2015) are from its photo's."""
    with torch.no_grad():
        targets = {k: gram_matrix(v.float()) for k, v in tap.features(real).items()}
    features = tap.features(fake)
    return sum((_half_sum_sq(gram_matrix(features[k].float()), targets[k]) for k in targets), fake.new_zeros(()))


def lowpass_error(fake: torch.Tensor, real: torch.Tensor, sigma: float = LOWPASS_SIGMA) -> torch.Tensor:
    """The halved squared norm of the blurred difference: the pixel term's share that is coarser than the blur
    (equal to it for a constant difference), the same for a pattern wherever it lies."""
    return _half_sum_sq(gaussian_blur(fake - real, sigma), torch.zeros_like(fake))


class DeepsimObjective(nn.Module):
    """The generator's loss and the discriminator's update; the discriminator's weights are a submodule (they
    travel in checkpoints), the comparator is held outside the module tree (frozen, the shipped network)."""

    def __init__(self, comparator: Representation, config: DeepsimConfig, code_features: int = 0) -> None:
        super().__init__()
        self.config = config
        self._comparator = (comparator.eval().requires_grad_(False),)  # a tuple: not a submodule
        self._texture: tuple[LayerTap, ...] = ()
        if config.texture:
            if not isinstance(comparator, LayerTap):
                raise PreimageError(f"the texture term needs a network comparator, got {type(comparator).__name__}")
            self._texture = (comparator.with_layers(TEXTURE_LAYERS),)
        self.discriminator = Discriminator(code_features=code_features if config.conditional else 0, patch=config.patch)

    @property
    def comparator(self) -> Representation:
        return self._comparator[0]

    def _d(self, images: torch.Tensor, codes: torch.Tensor | None) -> torch.Tensor:
        return self.discriminator(images, codes if self.config.conditional else None)

    def discriminator_loss(
        self, fake: torch.Tensor, real: torch.Tensor, codes: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Binary cross-entropy of telling photos (1) from reconstructions (0), ``fake`` detached; and the R1
        penalty's weighted value (0 when ``r1`` is 0), kept apart so that the pause judges the cross-entropy."""
        real = real.detach().requires_grad_(self.config.r1 > 0)
        real_logit, fake_logit = self._d(real, codes), self._d(fake.detach(), codes)
        bce = F.binary_cross_entropy_with_logits(
            real_logit, torch.ones_like(real_logit)
        ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        if not self.config.r1:
            return bce, bce.new_zeros(())
        # a patch critic's logits are averaged per image, so that R1 weighs the same as for one logit per image
        per_image = real_logit.float().reshape(len(real_logit), -1).mean(1)
        (grad,) = torch.autograd.grad(per_image.sum(), real, create_graph=True)
        return bce, self.config.r1 / 2 * grad.float().pow(2).flatten(1).sum(1).mean()

    def generator_loss(
        self, fake: torch.Tensor, real: torch.Tensor, codes: torch.Tensor | None, anchor: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted sum of the terms, and each term's value (for the log). The pixel terms compare with
        ``anchor`` when given (a trained MSE decoder's output for the same codes), else with the photos."""
        cfg = self.config
        logit = self._d(fake, codes)
        adv = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))  # -log D(G(phi))
        with torch.no_grad():
            target_features = self.comparator(real)
        feat = _half_sum_sq(self.comparator(fake), target_features)
        pixels = real if anchor is None else anchor
        img = _half_sum_sq(fake, pixels)
        total = cfg.feat * feat + cfg.adv * adv + cfg.img * img
        parts = {"feat": feat.detach().item(), "adv": adv.detach().item(), "img": img.detach().item()}
        if self._texture:
            texture = texture_error(self._texture[0], fake, real)
            total = total + cfg.texture * texture
            parts["texture"] = texture.detach().item()
        if cfg.low:
            low = lowpass_error(fake, pixels)
            total = total + cfg.low * low
            parts["low"] = low.detach().item()
        return total, parts

    def should_update_discriminator(self, d_loss: float, adv_loss: float) -> bool:
        """The paper's pause: skip D's update while it already wins too easily."""
        return d_loss >= self.config.pause_ratio * adv_loss


def deepsim_step(
    objective: DeepsimObjective,
    opt: torch.optim.Optimizer,
    fake: torch.Tensor,
    real: torch.Tensor,
    codes: torch.Tensor | None,
    anchor: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One alternating update: the discriminator (unless paused) on photos vs the detached reconstructions,
    and the generator on its DeePSiM loss through a frozen discriminator; one optimiser step updates both
    (each has gradients only from its own loss). Returns the pixel MSE (for the run's log and its divergence
    guard, against the photos) and each term's value. ``anchor``: see :meth:`DeepsimObjective.generator_loss`."""
    d_loss, r1 = objective.discriminator_loss(fake, real, codes)
    objective.discriminator.requires_grad_(False)
    try:
        g_loss, parts = objective.generator_loss(fake, real, codes, anchor)
    finally:
        objective.discriminator.requires_grad_(True)
    update_d = objective.should_update_discriminator(d_loss.detach().item(), parts["adv"])
    opt.zero_grad(set_to_none=True)
    (g_loss + d_loss + r1 if update_d else g_loss).backward()
    opt.step()
    parts |= {"d": d_loss.detach().item(), "d_updated": float(update_d)}
    if objective.config.r1:
        parts["r1"] = r1.detach().item()
    return F.mse_loss(fake.detach(), real), parts
