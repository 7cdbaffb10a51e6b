"""VGG-16 and VGG-19 with torchvision's exact module layout and state-dict keys, and ``vgg19_64``.

``pooling="avg"`` swaps every 2x2 max-pool for a 2x2 average-pool, as Gatys et al. and Xia et al. ran
VGG-19; pooling has no parameters, so torchvision's ``vgg19-*.pth`` loads unchanged into either form.

``vgg19_64`` is the VGG-19 layer structure (16 convolutions in blocks of 2-2-4-4-4, the same
``relu1_1 .. relu5_4`` aliases, average pooling) at widths 32-64-128-256-256 with a 200-class head,
sized to train on Tiny-ImageNet-200 (64x64) on a CPU. It trains with batch norm after each convolution
and ships with it folded in, so the released network is a plain VGG. Shapes for a 64x64 input::

    relu1_x 32x64x64  relu2_x 64x32x32  relu3_x 128x16x16  relu4_x 256x8x8  relu5_x 256x4x4
    pool5 256x2x2     fc6 512           fc7 512            fc8 200
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from preimage.models.alexnet import IMAGENET_MEAN, IMAGENET_STD
from preimage.models.alexnet64 import ConvBN
from preimage.models.registry import ModelConfig, register_model

Pooling = Literal["max", "avg"]


def _cfg(widths: tuple[int, ...], convs: tuple[int, ...]) -> list[int | str]:
    cfg: list[int | str] = []
    for w, n in zip(widths, convs, strict=True):
        cfg += [w] * n + ["M"]
    return cfg


# torchvision's configurations "D" (VGG-16) and "E" (VGG-19); "M" is a 2x2 pool.
VGG_CFGS: dict[str, list[int | str]] = {
    "vgg16": _cfg((64, 128, 256, 512, 512), (2, 2, 3, 3, 3)),
    "vgg19": _cfg((64, 128, 256, 512, 512), (2, 2, 4, 4, 4)),
}
VGG19_64_WIDTHS = (32, 64, 128, 256, 256)
VGG19_64_CFG = _cfg(VGG19_64_WIDTHS, (2, 2, 4, 4, 4))
VGG19_64_FC = 512
NUM_CLASSES_64 = 200


def vgg_aliases(cfg: list[int | str]) -> dict[str, str]:
    """``relu{block}_{i}`` and ``pool{block}`` -> ``features.N``, as in Gatys et al. and Xia et al."""
    aliases: dict[str, str] = {}
    block, conv, index = 1, 0, 0
    for v in cfg:
        if v == "M":
            aliases[f"pool{block}"] = f"features.{index}"
            index += 1
            block, conv = block + 1, 0
        else:
            conv += 1
            aliases[f"conv{block}_{conv}"] = f"features.{index}"
            aliases[f"relu{block}_{conv}"] = f"features.{index + 1}"
            index += 2
    aliases.update({"fc6": "classifier.1", "fc7": "classifier.4", "fc8": "classifier.6"})
    return aliases


class VGG(nn.Module):
    """torchvision's VGG (module indices and state-dict keys), with a choice of pooling.

    Args:
        cfg: widths of the convolutions, ``"M"`` for a 2x2 pool.
        num_classes: outputs of the last linear layer.
        pooling: ``"max"`` (torchvision) or ``"avg"`` (Gatys et al., Xia et al.).
        batchnorm: train-time form with batch norm after each convolution; :func:`fold_batchnorm`
            turns it into the plain form, whose keys are those of ``batchnorm=False``.
        pool_size: side of the adaptive average pool before the classifier (7 in torchvision).
        fc: width of the two hidden fully connected layers.

    Shape:
        - Input: :math:`(B, 3, H, W)`, normalised with the model's mean/std.
        - Output: :math:`(B, \\text{num\\_classes})` logits.
    """

    def __init__(
        self,
        cfg: list[int | str],
        num_classes: int = 1000,
        dropout: float = 0.5,
        pooling: Pooling = "max",
        batchnorm: bool = False,
        pool_size: int = 7,
        fc: int = 4096,
    ) -> None:
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', not {pooling!r}")
        self.pooling = pooling
        layers: list[nn.Module] = []
        cin = 3
        for v in cfg:
            if v == "M":
                pool = nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2)
                layers.append(pool)
            else:
                conv = ConvBN(cin, int(v), 3) if batchnorm else nn.Conv2d(cin, int(v), kernel_size=3, padding=1)
                layers += [conv, nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(cin * pool_size * pool_size, fc),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(fc, fc),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(fc, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}"


def vgg19(pooling: Pooling = "max", num_classes: int = 1000) -> VGG:
    """torchvision's VGG-19 layout; ``pooling="avg"`` is the network of Gatys et al. and Xia et al."""
    return VGG(VGG_CFGS["vgg19"], num_classes=num_classes, pooling=pooling)


def vgg19_64_net(batchnorm: bool = False, dropout: float = 0.3) -> VGG:
    """The ``vgg19_64`` architecture (see the module docstring); ``batchnorm=True`` is its training form."""
    return VGG(
        VGG19_64_CFG,
        num_classes=NUM_CLASSES_64,
        dropout=dropout,
        pooling="avg",
        batchnorm=batchnorm,
        pool_size=2,
        fc=VGG19_64_FC,
    )


def _register(name: str, pooling: Pooling) -> None:
    base = name.removesuffix("_avg")
    cfg = VGG_CFGS[base]
    pool_note = "average pooling (as Gatys et al. / Xia et al.)" if pooling == "avg" else "max pooling"

    @register_model(
        ModelConfig(
            name=name,
            input_size=224,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            num_classes=1000,
            aliases=vgg_aliases(cfg),
            weights_licence="torchvision weights: BSD-3-Clause code, ImageNet non-commercial research terms",
            description=f"torchvision {base.upper()}, {pool_note}; load torchvision's {base}-*.pth with --weights PATH",
        )
    )
    def build() -> nn.Module:
        return VGG(cfg, pooling=pooling)


for _name in VGG_CFGS:
    _register(_name, "max")
    _register(f"{_name}_avg", "avg")


@register_model(
    ModelConfig(
        name="vgg19_64",
        input_size=64,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=NUM_CLASSES_64,
        aliases=vgg_aliases(VGG19_64_CFG),
        ships_weights=True,
        weights_licence="trained by preimage on Tiny-ImageNet-200 (ImageNet non-commercial research terms)",
        description="VGG-19 layer structure (average pooling) at 64x64, Tiny-ImageNet-200 (see zoo/vgg19_64.md)",
    )
)
def vgg19_64() -> nn.Module:
    """VGG-19 structure with average pooling at widths 32-64-128-256-256 for 64x64, 200 classes."""
    return vgg19_64_net()
