"""The explorer's one door to the inverters: every call it makes into ``preimage.inverters`` is here.

The inverters are built by name from the registry (:func:`preimage.inverters.create_inverter`). It offers what
the page needs: the representations with a shipped decoder, encoding, decoding, the code edits of Dosovitskiy &
Brox (binarise, dropout, drop the least, top-k classes, interpolation, random codes), and the two slow
inversions the job queue runs (optimisation, Xia et al.'s filter textures), each with a per-step callback.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from preimage.data.images import resize
from preimage.errors import PreimageError, unknown_name
from preimage.experiments.feature_maps import texture_config
from preimage.inverters import DEFAULT_INPUT_SIZE, Inverter, OptimizeInverter, create_inverter, samples
from preimage.inverters import codes as C
from preimage.inverters.decoders import Decoder, shipped_reps, shipped_sizes, shipped_variants
from preimage.inverters.feature_maps import TEXTURE_MODELS, filter_textures, texture_layers
from preimage.models.registry import default_weights_path, get_config
from preimage.representations import create_representation
from preimage.representations.cnn import PROB, LayerTap

# the model whose layers the page decodes (and whose class names top-k shows)
CNN = "alexnet64"
# the layers whose codes are class scores (logits, probabilities): top-k keeps or removes classes
CLASS_LAYERS = ("fc8", "prob")

StepCallback = Callable[[], None]


@dataclass(frozen=True)
class RepChoice:
    """One entry of the page's representation menu: a representation at the image size it sees."""

    rep: str
    size: int
    weights: str | None = None  # a decoder file of the user's (``explore --decoder``); None: the zoo's
    # the zoo's other decoders of this task ("linear": the ridge-regression control, "fast", "sharp", ...)
    variants: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.rep if self.size == DEFAULT_INPUT_SIZE else f"{self.rep} {self.size}px"

    @functools.cached_property
    def classes(self) -> bool:
        """Whether the code holds class scores (top-k applies): asked of the built representation, once."""
        tap = create_representation(self.rep)
        return isinstance(tap, LayerTap) and tap.layers[0] in CLASS_LAYERS


def user_choices(decoders: Sequence[str | Path], network_weights: str = "default") -> list[RepChoice]:
    """Menu entries for the user's own decoder files (``explore --decoder``), after checking each fits its
    network (with ``network_weights``): a decoder trained on other weights is refused before the page is
    served."""
    out = []
    for path in decoders:
        dec = Decoder.from_file(path)
        rep = create_representation(dec.rep, **({"weights": network_weights} if ":" in dec.rep else {}))
        create_inverter("decoder", rep, input_size=dec.input_size, weights=str(path))
        out.append(RepChoice(dec.rep, dec.input_size, str(path)))
    return out


def rep_choices() -> list[RepChoice]:
    """Every representation the zoo ships a decoder for, shallow ones first, then the CNN layers in order."""
    out: list[RepChoice] = []
    for rep in sorted(shipped_reps(), key=_menu_position):
        out.extend(RepChoice(rep, s, variants=tuple(shipped_variants(rep, s))) for s in shipped_sizes(rep))
    return out


def _menu_position(name: str) -> tuple[int, str, int]:
    """Shallow representations first (by name), then each network's layers in the network's own order."""
    rep = create_representation(name)
    if not isinstance(rep, LayerTap):
        return (0, name, 0)
    order = [*rep.aliases, PROB]
    layer = rep.layers[0]
    return (1, type(rep.model).__name__, order.index(layer) if layer in order else len(order))


def find_choice(key: str, choices: list[RepChoice]) -> RepChoice:
    """The menu entry called ``key`` (``"hog"``, ``"alexnet64:fc7"``, ``"hog 224px"``); suggests the nearest."""
    by_key = {c.key: c for c in choices}
    if key in by_key:
        return by_key[key]
    # the CNN layers may be named without the model, as the paper does ("conv3")
    if f"{CNN}:{key}" in by_key:
        return by_key[f"{CNN}:{key}"]
    raise unknown_name("representation", key, by_key)


class Models:
    """Encoders and decoders for the live path, built once each and shared by every request.

    A layer tap hooks its network for each forward pass, so two threads must not run one tap at once: every
    encoder has a lock. Decoders run concurrently (inference only).
    """

    def __init__(self, network_weights: str = "default") -> None:
        # the weights of the networks of the user's decoders (explore --weights); the zoo's decoders' are shipped
        self.network_weights = network_weights
        self._lock = threading.Lock()
        self._encoders: dict[str, tuple[nn.Module, threading.Lock]] = {}
        self._decoders: dict[tuple[str, int, str | None], Inverter] = {}

    def _encoder(self, rep: str) -> tuple[nn.Module, threading.Lock]:
        with self._lock:
            if rep not in self._encoders:
                own = ":" in rep and bool(get_config(rep.split(":")[0]).factory)  # a --model network
                extra = {"weights": self.network_weights} if own else {}
                self._encoders[rep] = (create_representation(rep, **extra).eval(), threading.Lock())
            return self._encoders[rep]

    def decoder(self, choice: RepChoice, variant: str | None = None) -> Inverter:
        """The choice's decoder, or its zoo ``variant`` (one of ``choice.variants``)."""
        if variant is not None and variant not in choice.variants:
            raise unknown_name(f"decoder variant of {choice.key}", variant, choice.variants)
        key = (choice.rep, choice.size, variant)
        encoder = self._encoder(choice.rep)[0]  # before the lock below: it takes it too
        with self._lock:
            if key not in self._decoders:
                extra = {"weights": choice.weights} if choice.weights else {"variant": variant}
                self._decoders[key] = create_inverter("decoder", encoder, input_size=choice.size, **extra)  # type: ignore[arg-type]
            return self._decoders[key]

    def differentiable(self, rep: str) -> bool:
        """Whether optimisation can invert ``rep`` (it needs gradients with respect to the image)."""
        return getattr(self._encoder(rep)[0], "differentiable", True) is not False

    @torch.no_grad()
    def encode(self, rep: str, images: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, ...)`` of ``(B, 3, H, W)`` images."""
        encoder, lock = self._encoder(rep)
        with lock:
            return encoder(images).clone()

    @torch.no_grad()
    def decode(self, choice: RepChoice, code: torch.Tensor, variant: str | None = None) -> torch.Tensor:
        """The decoder's (or its ``variant``'s) reconstruction ``(B, 3, 64, 64)`` of codes ``(B, ...)``."""
        return self.decoder(choice, variant)(code)


@dataclass(frozen=True)
class Edits:
    """What is done to a code before decoding, in this order: top-k classes, drop the least, dropout, binarise."""

    binarize: bool = False
    dropout: float = 0.0
    dropout_seed: int = 0
    drop_least: float = 0.0
    top_k: int = 0
    top_k_mode: str = "top"  # top: keep only the k largest entries; rest: remove them

    def apply(self, code: torch.Tensor) -> torch.Tensor:
        if self.top_k:
            code = C.top_k(code, self.top_k, self.top_k_mode)
        if self.drop_least:
            code = C.drop_least(code, self.drop_least)
        if self.dropout:
            code = C.dropout(code, self.dropout, self.dropout_seed)
        if self.binarize:
            code = C.binarize(code)
        return code


def mix(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """The code at ``t`` on the straight line from ``a`` (t = 0) to ``b`` (t = 1), as ``codes.interpolate``."""
    if a.shape != b.shape:
        raise PreimageError(f"interpolate: codes differ in shape {tuple(a.shape)} vs {tuple(b.shape)}")
    return (1 - t) * a + t * b


def random_code(reference: torch.Tensor, seed: int) -> torch.Tensor:
    """One random code ``(1, ...)`` drawn dimension by dimension from the reference codes' histograms."""
    return C.sample_random(reference, 1, "histogram", seed=seed)


class Cancelled(Exception):
    """Raised inside a job's optimisation when the job is cancelled."""


def _count_steps(module: nn.Module, on_step: StepCallback) -> Any:
    """Call ``on_step`` after every forward pass of ``module`` (one per optimisation step)."""
    return module.register_forward_hook(lambda _m, _i, _o: on_step())


def optimize_code(rep: str, code: torch.Tensor, image_size: int, steps: int, on_step: StepCallback) -> torch.Tensor:
    """Mahendran & Vedaldi's optimisation inversion of ``code`` (``(1, ...)``) with the representation's own
    settings, ``steps`` at most; ``on_step`` runs once per step and may raise :class:`Cancelled`.

    Builds its own encoder: a layer tap must not be shared with the live path's threads.
    """
    encoder = create_representation(rep)
    if getattr(encoder, "differentiable", True) is False:
        raise PreimageError(
            f"{rep} is not differentiable, so optimisation cannot invert it — pick hog or an {CNN} layer"
        )
    # the representation's own settings, ``steps`` at most; delivered at the size it was optimised at
    inverter = create_inverter("optimize", encoder, input_size=image_size, output_size=image_size, steps=steps)
    assert isinstance(inverter, OptimizeInverter)
    handle = _count_steps(inverter.target, on_step)
    try:
        return inverter(code.detach().clone())
    finally:
        handle.remove()


def sample_code(
    rep: str, code: torch.Tensor, start: torch.Tensor, image_size: int, steps: int, seed: int, on_step: StepCallback
) -> torch.Tensor:
    """One more pre-image of ``code`` (``(1, ...)``): the decoder's reconstruction ``start`` plus noise drawn with
    ``seed``, then ``steps`` of the optimisation objective (:func:`preimage.inverters.samples.sample_code`);
    ``on_step`` runs once per step and may raise :class:`Cancelled`. Builds its own encoder, as
    :func:`optimize_code` does."""
    encoder = create_representation(rep)  # samples.sample_code refuses one without gradients
    handle = _count_steps(encoder, on_step)
    try:
        return samples.sample_code(encoder, code.detach().clone(), resize(start, image_size), seed, steps)
    finally:
        handle.remove()


def texture_layer_keys() -> tuple[str, ...]:
    """The ``model:layer`` entries the page offers for filter textures: Xia et al.'s network first
    (``vgg19_64:relu1_1 .. relu5_1``, average pooling), then ``alexnet64:conv1 .. conv5``; models without
    shipped weights are left out (a texture of random filters says nothing about the photo)."""
    return tuple(
        f"{model}:{layer}"
        for model in TEXTURE_MODELS
        if default_weights_path(model) is not None
        for layer in texture_layers(model)
    )


# the layer the page and the API pick when none is named: Xia et al.'s figures' relu2_1 on their network,
# else the AlexNet layer of the same depth
TEXTURE_DEFAULTS = ("vgg19_64:relu2_1", "alexnet64:conv2")


def default_texture_layer() -> str:
    """The texture layer used when a request names none (see :data:`TEXTURE_DEFAULTS`)."""
    keys = texture_layer_keys()
    if not keys:
        raise PreimageError(
            f"no texture layers: none of {', '.join(TEXTURE_MODELS)} has weights in the zoo — reinstall preimage"
        )
    return next((k for k in TEXTURE_DEFAULTS if k in keys), keys[0])


def _texture_tap(key: str) -> LayerTap:
    keys = texture_layer_keys()
    if key not in keys:
        raise unknown_name("texture layer", key, keys)
    tap = create_representation(key)
    assert isinstance(tap, LayerTap)
    return tap


def texture(image: torch.Tensor, key: str, channel: int, steps: int, on_step: StepCallback) -> torch.Tensor:
    """Xia et al.'s feature-map inversion with the settings of ``preimage textures``: the texture of filter
    ``channel`` of the layer ``key`` (``"vgg19_64:relu2_1"``) for ``image`` ``(1, 3, H, W)``."""
    tap = _texture_tap(key)
    channels = texture_channels(key)
    if not 0 <= channel < channels:
        raise PreimageError(f"{key} has {channels} filters: pick a channel in 0..{channels - 1}")
    calls = [0]

    def step() -> None:
        # the first forward pass computes the code to invert and the last one measures the result's
        # feature error: neither is a step, so only the `steps` passes between them count
        calls[0] += 1
        if 1 < calls[0] <= steps + 1:
            on_step()

    handle = _count_steps(tap, step)
    try:
        # the settings of `preimage textures` (TEXTURE_PRESET: Adam on the normalised loss; see texture_config)
        result = filter_textures(tap, image, [channel], texture_config(False, 0, steps))
    finally:
        handle.remove()
    if not result.active[0]:
        raise PreimageError(f"{key} filter {channel} is inactive on this image (its map is all zero)")
    return result.images


_CHANNELS: dict[str, int] = {}


def texture_channels(key: str) -> int:
    """How many filters the texture layer ``key`` (``"alexnet64:conv2"``) has."""
    if key not in _CHANNELS:
        _CHANNELS[key] = int(_texture_tap(key).out_shape(DEFAULT_INPUT_SIZE)[0])
    return _CHANNELS[key]


def class_names() -> list[str]:
    from preimage.models.registry import class_names as names

    return names(CNN)
