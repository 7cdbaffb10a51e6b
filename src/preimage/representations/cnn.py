"""Layer taps: any layer of any ``nn.Module`` as a representation (``alexnet64:conv3``, ``vgg19:relu4_1``).

A tap normalises ``[0, 1]`` images with the model's mean/std, runs the model
with forward hooks on the requested modules and stops the forward pass as soon
as the last of them has produced its output (so ``conv1`` of a VGG costs one
convolution, not the whole network). Layers are named by dotted module path
(``features.8``, ``layer3.1.conv2``) or, for registered models, by the paper's
aliases (``conv1 .. conv5, fc6, fc7, fc8, prob`` for the AlexNet family,
``relu1_1 .. relu5_4`` for VGG). ``prob`` is the softmax of the model's output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from preimage.errors import PreimageError, unknown_name
from preimage.representations.base import Representation, as_hw, check_images

PROB = "prob"
# Optimisation settings that suit CNN codes (Mahendran & Vedaldi: jitter, stronger TV than for HOG).
CNN_OPTIMIZE_DEFAULTS: dict[str, Any] = {"lr": 0.05, "lambda_tv": 0.05, "jitter": 1}


class _StopForward(Exception):
    """Raised by a hook once every requested layer has been captured."""


class LayerTap(Representation):
    """Activations of one or more layers of a network, on ``[0, 1]`` images.

    Args:
        model: any ``nn.Module`` taking normalised ``(B, 3, H, W)`` images (put in eval mode).
        layers: dotted module names or aliases; ``"prob"`` = softmax of the output.
        mean, std: the per-channel normalisation the model was trained with.
        aliases: alias -> dotted module name.
        name: how the tap prints (``alexnet64:conv3``).

    Shape:
        - Input: :math:`(B, 3, H, W)` in ``[0, 1]``.
        - Output (:meth:`forward`, one layer): the layer's activation, e.g. ``(B, 192, 8, 8)`` for
          ``alexnet64:conv3`` or ``(B, 1024)`` for ``alexnet64:fc7``. :meth:`features` returns a dict
          for several layers.

    Example:
        >>> from preimage.models import AlexNet64
        >>> tap = LayerTap(AlexNet64().eval(), ["features.2"], (0.5,) * 3, (0.25,) * 3)
        >>> tap(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 64, 16, 16])
    """

    kind = "cnn"

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        aliases: dict[str, str] | None = None,
        name: str = "tap",
    ) -> None:
        super().__init__()
        if not layers:
            raise PreimageError("no layer requested — name one, e.g. MODEL:conv3")
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.aliases = dict(aliases or {})
        self.name = name
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))
        modules = dict(model.named_modules())
        modules.pop("", None)
        self.layers = list(layers)
        self.targets: dict[str, str] = {}
        for layer in self.layers:
            if layer == PROB:
                self.targets[layer] = PROB
                continue
            target = self.aliases.get(layer, layer)
            if target not in modules:
                valid = [*self.aliases, PROB, *modules]
                raise PreimageError(f"{unknown_name('layer', layer, valid, limit=60)} (see: preimage list layers)")
            self.targets[layer] = target
        self._modules_by_name = modules
        self._shape_cache: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}
        self.optimize_defaults: dict[str, Any] = dict(CNN_OPTIMIZE_DEFAULTS)

    def valid_layers(self) -> list[str]:
        return [*self.aliases, PROB, *self._modules_by_name]

    def with_layers(self, layers: Sequence[str]) -> LayerTap:
        """A tap on the same network, sharing its weights and normalisation, for other layers."""
        return LayerTap(
            self.model,
            list(layers),
            self.get_buffer("mean").flatten().tolist(),
            self.get_buffer("std").flatten().tolist(),
            self.aliases,
            name=self.name,
        )

    def features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every requested layer's activation, keyed by the requested name."""
        check_images(images, self.name)
        mean = self.get_buffer("mean").to(images.dtype)
        std = self.get_buffer("std").to(images.dtype)
        x = (images - mean) / std
        wanted = {t for t in self.targets.values() if t != PROB}
        captured: dict[str, torch.Tensor] = {}
        need_output = PROB in self.targets.values()

        def make_hook(module_name: str) -> Any:
            def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
                if not isinstance(out, torch.Tensor):
                    raise PreimageError(
                        f"layer {module_name} returns {type(out).__name__}, not a tensor — tap "
                        "one of its sub-modules instead"
                    )
                # clone: a following in-place ReLU would otherwise overwrite what was captured
                captured[module_name] = out.clone()
                if not need_output and wanted.issubset(captured):
                    raise _StopForward

            return hook

        handles = [self._modules_by_name[t].register_forward_hook(make_hook(t)) for t in wanted]
        output = None
        try:
            output = self.model(x)
        except _StopForward:
            pass
        finally:
            for h in handles:
                h.remove()
        result: dict[str, torch.Tensor] = {}
        for layer, target in self.targets.items():
            if target == PROB:
                assert output is not None
                result[layer] = torch.softmax(output, dim=1)
            else:
                result[layer] = captured[target]
        return result

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        if len(self.layers) != 1:
            raise PreimageError(f"{self.name} taps {len(self.layers)} layers; call .features(images) for a dict")
        return self.features(images)[self.layers[0]]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encode(images)

    def out_shapes(self, image_size: int | tuple[int, int]) -> dict[str, tuple[int, ...]]:
        """Per-layer code shapes for an image size, traced once on a fake tensor (no arithmetic)."""
        hw = as_hw(image_size)
        if hw not in self._shape_cache:
            from torch._subclasses.fake_tensor import FakeTensorMode

            # the probe lives where the network does (a tap moved to a GPU must not see a CPU tensor)
            probe = torch.zeros(1, 3, *hw, device=self.get_buffer("mean").device)
            try:
                with FakeTensorMode(allow_non_fake_inputs=True) as mode:
                    feats = self.features(mode.from_tensor(probe))
            except PreimageError:
                raise
            except Exception:  # some custom modules do not trace; run a real zero image instead
                with torch.no_grad():
                    feats = self.features(probe)
            self._shape_cache[hw] = {k: tuple(v.shape[1:]) for k, v in feats.items()}
        return self._shape_cache[hw]

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        return self.out_shapes(image_size)[self.layers[0]]

    @property
    def weights_sha256(self) -> str | None:
        """The SHA-256 of the weights file the codes come from (None: weights set some other way).

        A network whose convolutions were copied from another file and kept fixed computes that file's
        conv codes bit for bit, so a tap of its ``features`` only names that file: decoders trained on
        either network's conv codes serve both.
        """
        source = getattr(self.model, "preimage_features_sha256", None)
        if source is not None and all(t.startswith("features.") for t in self.targets.values()):
            return str(source)
        return getattr(self.model, "preimage_weights_sha256", None)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, layers={self.layers}"


def parse_tap(spec: str) -> tuple[str, list[str]]:
    """``"alexnet64:conv3,fc7"`` -> ``("alexnet64", ["conv3", "fc7"])``."""
    model, _, layers = spec.partition(":")
    names = [layer.strip() for layer in layers.split(",") if layer.strip()]
    if not model or not names:
        raise PreimageError(f"bad layer tap {spec!r} — write MODEL:LAYER, e.g. alexnet64:conv3")
    return model, names


def create_cnn_representation(
    spec: str, weights: str | None = "default", model: nn.Module | None = None, **_: Any
) -> LayerTap:
    """A :class:`LayerTap` for ``MODEL:LAYER[,LAYER...]`` of a registered model.

    ``weights`` is ``"default"`` (the shipped weights), a ``.pth``/``.safetensors``
    path, or ``None`` (random initialisation, for tests). Pass ``model`` to reuse
    an already-built network.
    """
    from preimage.models import create_model, get_config

    name, layers = parse_tap(spec)
    cfg = get_config(name)
    net = model if model is not None else create_model(name, weights=weights)
    return LayerTap(net, layers, cfg.mean, cfg.std, cfg.aliases, name=spec)


def layer_tap(
    model: nn.Module,
    layers: str | Sequence[str],
    mean: Sequence[float] = (0.485, 0.456, 0.406),
    std: Sequence[float] = (0.229, 0.224, 0.225),
) -> LayerTap:
    """Functional helper for a user's own model (a timm model, a fine-tuned ResNet ...)."""
    names = [layers] if isinstance(layers, str) else list(layers)
    return LayerTap(model, names, mean, std, name=f"{type(model).__name__}:{','.join(names)}")


def layer_shapes(model: nn.Module, input_size: int) -> list[tuple[str, tuple[int, ...]]]:
    """Every module of ``model`` that outputs one tensor, with that output's shape (batch dimension dropped) for
    a ``(1, 3, input_size, input_size)`` input, in the order the forward pass reaches them: the layers a tap
    can read (``preimage list layers``)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def hook(name: str) -> Any:
        def record(_: nn.Module, __: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and name not in shapes:
                shapes[name] = tuple(out.shape[1:])

        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
    return list(shapes.items())
