"""AlexNet with torchvision's exact module layout and state-dict keys.

``torchvision.models.alexnet`` weights (``alexnet-owt-7be5be79.pth``) load with
``strict=True`` without torchvision installed.
"""

from __future__ import annotations

import torch
from torch import nn

from preimage.models.registry import ModelConfig, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Paper layer names -> the module whose output is that layer ("the last processing
# step of that layer": conv1/2/5 after ReLU and max-pooling, fc6/fc7 after ReLU,
# fc8 before the softmax).
ALEXNET_ALIASES = {
    "conv1": "features.2",
    "conv2": "features.5",
    "conv3": "features.7",
    "conv4": "features.9",
    "conv5": "features.12",
    "fc6": "classifier.2",
    "fc7": "classifier.5",
    "fc8": "classifier.6",
}


class AlexNet(nn.Module):
    """torchvision's AlexNet (the one-tower 'OWT' variant, 224x224 input)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


@register_model(
    ModelConfig(
        name="alexnet",
        input_size=224,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=1000,
        aliases=ALEXNET_ALIASES,
        weights_licence="torchvision weights: BSD-3-Clause code, ImageNet non-commercial research terms",
        description="torchvision AlexNet; load torchvision's alexnet-owt-7be5be79.pth with --weights PATH",
    )
)
def alexnet() -> nn.Module:
    """torchvision-compatible AlexNet (bring your own weights)."""
    return AlexNet()
