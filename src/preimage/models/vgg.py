"""VGG-16 and VGG-19 with torchvision's exact module layout and state-dict keys."""

from __future__ import annotations

import torch
from torch import nn

from preimage.models.alexnet import IMAGENET_MEAN, IMAGENET_STD
from preimage.models.registry import ModelConfig, register_model

# torchvision's configurations "D" (VGG-16) and "E" (VGG-19); "M" is a 2x2 max-pool.
VGG_CFGS: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [
        64,
        64,
        "M",
        128,
        128,
        "M",
        256,
        256,
        256,
        256,
        "M",
        512,
        512,
        512,
        512,
        "M",
        512,
        512,
        512,
        512,
        "M",
    ],
}


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
    """torchvision's VGG without batch norm."""

    def __init__(self, cfg: list[int | str], num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def _register(name: str) -> None:
    cfg = VGG_CFGS[name]

    @register_model(
        ModelConfig(
            name=name,
            input_size=224,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
            num_classes=1000,
            aliases=vgg_aliases(cfg),
            weights_licence="torchvision weights: BSD-3-Clause code, ImageNet non-commercial research terms",
            description=f"torchvision {name.upper()}; load torchvision's {name}-*.pth with --weights PATH",
        )
    )
    def build() -> nn.Module:
        return VGG(cfg)


for _name in VGG_CFGS:
    _register(_name)
