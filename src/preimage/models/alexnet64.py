"""``alexnet64``: AlexNet adapted to 64x64 input and sized to train on a 2-core CPU.

Same depth and layer types as AlexNet (5 convolutions, 3 fully connected layers,
ReLU, max-pooling), the same module indices as torchvision's AlexNet (so the
paper aliases ``conv1 ... fc8`` point at the same positions), narrower layers
and a stride-2 first convolution instead of stride 4, because the input is
64 pixels instead of 224.

It trains with batch normalisation after every convolution (convergence in a
CPU budget) and ships with the batch norm *folded into the convolutions*, so
the released network is a plain AlexNet: conv -> ReLU -> pool.

Shapes of the layers for a 64x64 input::

    conv1 64x16x16   conv2 128x8x8   conv3 192x8x8   conv4 192x8x8   conv5 128x4x4
    fc6 1024         fc7 1024        fc8 200         prob 200
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from preimage.models.alexnet import ALEXNET_ALIASES, IMAGENET_MEAN, IMAGENET_STD
from preimage.models.registry import ModelConfig, register_model

WIDTHS = (64, 128, 192, 192, 128)
FC_WIDTH = 1024
NUM_CLASSES = 200


class ConvBN(nn.Module):
    """Convolution followed by batch norm; :meth:`fold` turns it into one convolution."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fold(self) -> nn.Conv2d:
        """The equivalent single convolution in eval mode: w' = w*g/s, b' = beta - mu*g/s."""
        conv, bn = self.conv, self.bn
        assert bn.running_var is not None and bn.running_mean is not None
        out = nn.Conv2d(
            conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.kernel_size[0] // 2
        )
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        out.weight.copy_(conv.weight * scale[:, None, None, None])
        assert out.bias is not None
        out.bias.copy_(bn.bias - bn.running_mean * scale)
        return out


class AlexNet64(nn.Module):
    """AlexNet for 64x64 images (Tiny-ImageNet, 200 classes).

    Args:
        batchnorm: train-time form with batch norm after each convolution.
            :func:`fold_batchnorm` converts it to the plain, shipped form.
        fc_width: width of fc6 and fc7 (the paper's AlexNet: 4096).

    Shape:
        - Input: :math:`(B, 3, 64, 64)`, normalised with ImageNet mean/std.
        - Output: :math:`(B, 200)` logits.
    """

    def __init__(
        self, batchnorm: bool = False, num_classes: int = NUM_CLASSES, dropout: float = 0.5, fc_width: int = FC_WIDTH
    ) -> None:
        super().__init__()
        w = WIDTHS

        def conv(cin: int, cout: int, k: int, s: int = 1) -> nn.Module:
            return ConvBN(cin, cout, k, s) if batchnorm else nn.Conv2d(cin, cout, k, s, k // 2)

        self.features = nn.Sequential(
            conv(3, w[0], 5, 2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            conv(w[0], w[1], 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            conv(w[1], w[2], 3),
            nn.ReLU(inplace=True),
            conv(w[2], w[3], 3),
            nn.ReLU(inplace=True),
            conv(w[3], w[4], 3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        self.avgpool = nn.Identity()  # kept for torchvision-like structure; 64x64 input gives 4x4 already
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(w[4] * 4 * 4, fc_width),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(fc_width, fc_width),
            nn.ReLU(inplace=True),
            nn.Linear(fc_width, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


M = TypeVar("M", bound=nn.Module)


def fold_batchnorm(model: M) -> M:
    """Replace every :class:`ConvBN` in ``model.features`` by its folded convolution, in place; returns the
    model (``alexnet64``, ``vgg19_64`` or any network with a ``features`` sequence)."""
    features = model.features
    assert isinstance(features, nn.Sequential)
    for i, module in enumerate(features):
        if isinstance(module, ConvBN):
            features[i] = module.fold()
    return model


@register_model(
    ModelConfig(
        name="alexnet64",
        input_size=64,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        num_classes=NUM_CLASSES,
        aliases=ALEXNET_ALIASES,
        ships_weights=True,
        weights_licence="trained by preimage on Tiny-ImageNet-200 (ImageNet non-commercial research terms)",
        description="AlexNet for 64x64 input trained here on Tiny-ImageNet-200 (see zoo/alexnet64.md)",
    )
)
def alexnet64() -> nn.Module:
    """AlexNet adapted to 64x64, trained on Tiny-ImageNet-200."""
    return AlexNet64()
