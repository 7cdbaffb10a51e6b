"""Learned inversion (Dosovitskiy & Brox, CVPR 2016): up-convolutional decoders that predict E[x | Phi(x)].

Architectures follow the paper, with a width knob so that each trains on a CPU:

- **spatial codes** (HOG, LBP, SIFT grids, conv layers): a contracting part of
  strided convolutions that aggregates over large regions (the paper found
  this necessary to estimate absolute brightness from normalised features), a
  bottleneck, then an expanding part of 4x4 stride-2 up-convolutions back to
  the image resolution. The finest level of the contracting part is added back
  before the first up-convolution. Optional residual blocks at the code
  resolution (``blocks``) and after each expansion stage (``stage_blocks``;
  identity when new, so a trained decoder can be grown and trained on).
  ``upsample="bilinear"`` doubles maps by bilinear resizing and a 3x3 convolution
  instead of up-convolutions (no per-cell kernel footprint to repeat as a grid).
- **vector codes** (fc6, fc7, fc8, class probabilities): three fully connected
  layers, a reshape to a 4x4 map, then up-convolutions.
- **linear** (``network="linear"``, the control every decoder must beat): one matrix from the code (spatial
  maps average-pooled to a small grid) to a thumbnail, upsampled bilinearly; fit by ridge regression in
  closed form (:mod:`preimage.training.linear`).

Leaky ReLU (0.2) everywhere; the output is an RGB image whose pixels are
trained with MSE against the input in ``[0, 1]`` and clamped to ``[0, 1]`` at
inference.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from preimage import zoo
from preimage.errors import PreimageError

# DEFAULT_INPUT_SIZE: the image side of the Tiny-ImageNet protocol, which every decoder file without a size tag
# was trained at
from preimage.inverters.base import DEFAULT_INPUT_SIZE
from preimage.representations.base import Representation

CodeFlip = Callable[[torch.Tensor], torch.Tensor]


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _conv(cin: int, cout: int, k: int = 3, s: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2), _act())


def _upconv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), _act())


UPSAMPLINGS = ("transposed", "bilinear")


class _ResizeConv(nn.Module):
    """Bilinear upsampling to a given size, then a 3x3 convolution (Odena et al. 2016, "Deconvolution and
    checkerboard artifacts").

    A stride-2 transposed convolution paints each input cell with the same 4x4 kernel footprint, so where
    the code says little (a flat sky) the decoder draws the grid of its coarsest map: a 7x7 bottleneck
    shows as lines every 64/7 = 9.1 px in a 64-px reconstruction. Interpolating first has no per-cell
    footprint to repeat.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = _conv(cin, cout)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        """``x`` resized to ``size`` (default: twice its own) and convolved."""
        size = size or (2 * x.shape[-2], 2 * x.shape[-1])
        return self.conv(nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False))


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.Conv2d(channels, channels, 3, 1, 1))
        self.act = _act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class _StageBlock(nn.Module):
    """``x + conv(act(conv(x)))`` with the last convolution zero-initialised: the identity when added.

    No activation after the sum, so a trained decoder grown with these blocks computes exactly what it did
    before (function-preserving growth), and training continues from there with more capacity.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels), nn.Conv2d(channels, channels, 3, 1, 1))
        last = self.body[1]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def expansion_plan(in_size: int, out_size: int) -> tuple[int, int]:
    """``(base, doublings)``: the trunk's maps are brought to ``base`` and doubled ``doublings`` times.

    When the image is the code size times a power of two (every 64-px protocol) ``base`` is the code size
    and nothing is resampled. Otherwise (features of a 224-px photo decoded to 64 px: a 28x28 HOG grid, a
    14x14 LBP grid) the trunk's output is resized once, bilinearly, to the smallest ``out_size / 2^k`` that
    is not below the code size (28 -> 32, 14 -> 16, 56 -> 64), or down to ``out_size`` when the code is
    larger than the image: every code position is kept, and the up-convolutions add resolution only.
    """
    if in_size < 1 or out_size < 1:
        raise PreimageError(f"decoder: code size {in_size} and image size {out_size} must be positive")
    ratio = out_size // in_size
    if out_size % in_size == 0 and ratio & (ratio - 1) == 0:
        return in_size, int(math.log2(ratio))
    doublings = max(0, math.floor(math.log2(out_size / in_size)))
    while doublings and out_size % 2**doublings:
        doublings -= 1
    return out_size // 2**doublings, doublings


class SpatialDecoder(nn.Module):
    """Decoder for ``(C, h, h)`` codes -> ``(3, S, S)`` images.

    ``S / h`` a power of two (the 64-px protocol) decodes by doublings alone (transposed convolutions, or
    bilinear resize-convolutions with ``upsample="bilinear"``); any other ratio
    (``224 -> 64``: a 28x28 HOG code to a 64-px image) resizes the code-resolution trunk once to
    ``S / 2^k`` (see :func:`expansion_plan`) before the up-convolutions.

    Shape:
        - Input: :math:`(B, C, h, h)`. Output: :math:`(B, 3, S, S)`.
    """

    def __init__(
        self,
        in_channels: int,
        in_size: int,
        out_size: int = 64,
        width: int = 64,
        blocks: int = 0,
        top: int = 0,
        stage_blocks: int = 0,
        shuffle: int = 1,
        upsample: str = "transposed",
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLINGS:
            raise PreimageError(f"decoder: unknown upsampling {upsample!r}: use one of {', '.join(UPSAMPLINGS)}")
        self.upsample = upsample
        # a code grid finer than half the image (SIFT's 56x56 cells of a 224-px photo -> 64 px) is first
        # halved by strided stem convolutions: a trunk of 4*width channels at 56x56 would cost ~12x the
        # whole HOG decoder, and the sparse grid (~20% of cells occupied) carries no detail a 64-px image
        # could show at that density
        self.halvings = 0
        while (in_size >> self.halvings) * 2 > out_size and in_size >> self.halvings > 1:
            self.halvings += 1
        trunk_size = -(-in_size // 2**self.halvings)
        self.base, doublings = expansion_plan(trunk_size, out_size)
        if shuffle < 1 or shuffle & (shuffle - 1) or shuffle > 2**doublings:
            raise PreimageError(
                f"decoder: `shuffle={shuffle}` must be a power of 2 no larger than the upsampling factor "
                f"{2**doublings} (code {in_size} -> image {out_size}); 1 = up-convolutions all the way"
            )
        # the last log2(shuffle) doublings are one sub-pixel convolution (Shi et al. 2016) instead of
        # up-convolution stages: the full-resolution stages cost most of the time on a CPU (few channels,
        # memory-bound) and add little to a reconstruction that is a conditional mean, hence smooth
        ups = int(math.log2(2**doublings // shuffle))
        w4 = width * 4
        # channels of the code-resolution trunk; widening it (and adding residual blocks there) buys
        # capacity where positions are few, without touching the costly full-resolution stages
        wt = top or w4
        strides = [2] * self.halvings + [1] * max(0, 2 - self.halvings)
        self.stem = nn.Sequential(*[_conv(in_channels if i == 0 else wt, wt, 3, st) for i, st in enumerate(strides)])
        # contracting part: down to 2x2 (or as far as the code allows), then back up to the code size
        downs = max(0, int(math.log2(trunk_size)) - 1)
        self.down = nn.ModuleList([_conv(wt, wt, 3, 2) for _ in range(min(downs, 2))])
        self.bottleneck = _conv(wt, wt, 3)
        up: Callable[[int, int], nn.Module] = _ResizeConv if upsample == "bilinear" else _upconv
        self.up_contract = nn.ModuleList([up(wt, wt) for _ in range(len(self.down))])
        self.blocks = nn.Sequential(*[_ResidualBlock(wt) for _ in range(blocks)])
        chans = [wt]
        for i in range(ups):
            chans.append(max(width // 2, w4 // 2 ** (i + 1)))
        self.expand = nn.Sequential(
            *[nn.Sequential(up(chans[i], chans[i + 1]), _conv(chans[i + 1], chans[i + 1])) for i in range(ups)]
        )
        # residual blocks after every expansion stage below the output resolution: capacity where the
        # image's layout is drawn, at a fraction of the cost of the full-resolution stage (kept separate
        # from ``expand`` so weights trained without them load unchanged)
        self.stage_blocks = nn.ModuleList(
            [
                nn.Sequential(
                    *[_StageBlock(chans[i + 1]) for _ in range(stage_blocks if i < ups - 1 or shuffle > 1 else 0)]
                )
                for i in range(ups)
            ]
        )
        self.head = nn.Conv2d(chans[-1], 3 * shuffle * shuffle, 3, 1, 1)
        assert self.head.bias is not None
        nn.init.constant_(self.head.bias, 0.45)  # start at mid-gray, the MSE optimum without information
        self.shuffle = nn.PixelShuffle(shuffle) if shuffle > 1 else nn.Identity()

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.stem(code)
        skips = [x]
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        x = self.bottleneck(x)
        for layer, skip in zip(self.up_contract, reversed(skips[:-1]), strict=True):
            if isinstance(layer, _ResizeConv):
                x = layer(x, (skip.shape[-2], skip.shape[-1])) + skip
            else:
                # an odd map (7 -> 4 -> 8) is one row too large after doubling: drop the row the stride skipped
                x = layer(x)[..., : skip.shape[-2], : skip.shape[-1]] + skip
        x = self.blocks(x)
        if x.shape[-1] != self.base:
            x = nn.functional.interpolate(
                x, size=(self.base, self.base), mode="bilinear", align_corners=False, antialias=x.shape[-1] > self.base
            )
        for stage, extra in zip(self.expand, self.stage_blocks, strict=True):
            x = extra(stage(x))
        return self.shuffle(self.head(x))


class VectorDecoder(nn.Module):
    """Decoder for ``(D,)`` codes: three fully connected layers, reshape to 4x4, up-convolutions (transposed, or
    bilinear resize-convolutions with ``upsample="bilinear"``).

    Shape:
        - Input: :math:`(B, D)`. Output: :math:`(B, 3, S, S)`.
    """

    def __init__(
        self, in_features: int, out_size: int = 64, width: int = 64, hidden: int = 512, upsample: str = "transposed"
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLINGS:
            raise PreimageError(f"decoder: unknown upsampling {upsample!r}: use one of {', '.join(UPSAMPLINGS)}")
        w4 = width * 4
        self.base = 4
        self.fc = nn.Sequential(
            nn.Linear(in_features, hidden),
            _act(),
            nn.Linear(hidden, hidden),
            _act(),
            nn.Linear(hidden, w4 * self.base * self.base),
            _act(),
        )
        ups = int(math.log2(out_size // self.base))
        chans = [w4] + [max(width // 2, w4 // 2 ** (i + 1)) for i in range(ups)]
        up: Callable[[int, int], nn.Module] = _ResizeConv if upsample == "bilinear" else _upconv
        self.expand = nn.Sequential(
            *[nn.Sequential(up(chans[i], chans[i + 1]), _conv(chans[i + 1], chans[i + 1])) for i in range(ups)]
        )
        self.w4 = w4
        self.head = nn.Conv2d(chans[-1], 3, 3, 1, 1)
        assert self.head.bias is not None
        nn.init.constant_(self.head.bias, 0.45)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = self.fc(code.flatten(1)).view(-1, self.w4, self.base, self.base)
        return self.head(self.expand(x))


# the most code values a linear decoder reads: spatial codes are average-pooled to the largest square grid
# within it, so that ridge regression's normal equations (features x features) stay small and its matrix ships
LINEAR_MAX_FEATURES = 4096


def linear_grid(code_shape: tuple[int, ...], max_features: int = LINEAR_MAX_FEATURES) -> int:
    """The side of the grid a linear decoder pools a ``(C, H, W)`` code to (0 for vectors: read whole)."""
    if len(code_shape) != 3:
        return 0
    c, h, _ = code_shape
    grid = min(h, math.isqrt(max_features // c))
    if grid < 1:
        raise PreimageError(f"linear decoder: {c} channels exceed {max_features} features even on a 1x1 grid")
    return grid


class LinearDecoder(nn.Module):
    r"""A linear map from the code to a ``thumbnail_size`` RGB image, upsampled bilinearly to ``out_size``.

    Spatial codes are average-pooled to ``grid`` x ``grid`` first (``grid`` 0: vectors, read whole); pooling and
    upsampling are linear, so the whole decoder is linear in the code (plus a bias).

    Shape:
        - Input: :math:`(B, *code\_shape)`. Output: :math:`(B, 3, S, S)`, ``S = out_size``.
    """

    def __init__(self, code_shape: tuple[int, ...], out_size: int, grid: int, thumbnail_size: int) -> None:
        super().__init__()
        self.grid, self.thumbnail_size, self.out_size = grid, thumbnail_size, out_size
        features = code_shape[0] * grid * grid if grid else math.prod(code_shape)
        self.linear = nn.Linear(features, 3 * thumbnail_size * thumbnail_size)

    def features(self, code: torch.Tensor) -> torch.Tensor:
        """The code as the matrix reads it: ``(B, features)``."""
        if self.grid:
            code = nn.functional.adaptive_avg_pool2d(code, self.grid)
        return code.flatten(1)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        t = self.thumbnail_size
        thumb = self.linear(self.features(code).float()).view(-1, 3, t, t)
        return nn.functional.interpolate(thumb, size=self.out_size, mode="bilinear", align_corners=False)


NETWORKS = ("upconv", "linear")


@dataclass(frozen=True)
class DecoderArch:
    """A decoder's architecture: what :class:`Decoder` is built from and its file records.

    Two sizes describe a decoder: ``input_size``, the side of the image the representation saw (64 for the
    thumbnails of Tiny-ImageNet, 224 for the paper's protocol of features of full-resolution photos; None:
    ``output_size``), and ``output_size``, the side of the reconstruction (64 for both: the paper predicted
    downsampled images). ``network``: ``"upconv"`` (the paper's decoders) or ``"linear"`` (ridge regression
    to a ``thumbnail_size`` thumbnail). The others size an up-convolutional network (see
    :func:`build_decoder`).
    """

    rep: str
    code_shape: tuple[int, ...]
    output_size: int = 64
    width: int = 32
    hidden: int = 512
    blocks: int = 0
    top: int = 0
    stage_blocks: int = 0
    shuffle: int = 1
    input_size: int | None = None
    upsample: str = "transposed"
    network: str = "upconv"
    thumbnail_size: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "code_shape", tuple(self.code_shape))
        if self.input_size is None:
            object.__setattr__(self, "input_size", self.output_size)
        if self.network not in NETWORKS:
            raise PreimageError(f"decoder network must be one of {', '.join(NETWORKS)}, not {self.network!r}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "code_shape": list(self.code_shape)}

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> DecoderArch:
        """From a file's record; files written before a field existed get its default, and their older key
        names (``image_size``, ``arch``) are read as today's."""
        renamed = {"image_size": "output_size", "arch": "network"}
        known = {f.name for f in fields(cls)}
        values = {renamed.get(k, k): v for k, v in cfg.items() if renamed.get(k, k) in known}
        return cls(**values)


def build_decoder(
    code_shape: tuple[int, ...],
    out_size: int = 64,
    width: int = 64,
    hidden: int = 512,
    blocks: int = 0,
    top: int = 0,
    stage_blocks: int = 0,
    shuffle: int = 1,
    upsample: str = "transposed",
) -> nn.Module:
    """The paper's decoder family for a code shape: spatial maps or vectors."""
    if len(code_shape) == 3:
        c, h, w = code_shape
        if h != w:
            raise PreimageError(f"decoder: square code maps only, got {h}x{w}")
        return SpatialDecoder(c, h, out_size, width, blocks, top, stage_blocks, shuffle, upsample)
    if len(code_shape) == 1:
        if stage_blocks or shuffle != 1:
            raise PreimageError("decoder: `stage_blocks` and `shuffle` apply to spatial codes (maps), not vectors")
        return VectorDecoder(code_shape[0], out_size, width, hidden, upsample)
    raise PreimageError(f"decoder: unsupported code shape {code_shape}")


def _network(arch: DecoderArch) -> nn.Module:
    if arch.network == "linear":
        return LinearDecoder(arch.code_shape, arch.output_size, linear_grid(arch.code_shape), arch.thumbnail_size)
    return build_decoder(
        arch.code_shape,
        arch.output_size,
        arch.width,
        arch.hidden,
        arch.blocks,
        arch.top,
        arch.stage_blocks,
        arch.shuffle,
        arch.upsample,
    )


class Decoder(nn.Module):
    """A trained inverter for one representation: ``Decoder.from_pretrained("hog")(codes) -> images``.

    Built from a :class:`DecoderArch`; ``Decoder.from_pretrained("hog", size=224)`` is the shipped decoder
    of 224-px HOG.

    Shape:
        - Input: codes ``(B, *code_shape)``, the code of an ``input_size`` image.
        - Output: ``(B, 3, output_size, output_size)`` in ``[0, 1]``.
    """

    def __init__(self, arch: DecoderArch) -> None:
        super().__init__()
        self.arch = arch
        self.net: nn.Module = _network(arch)
        # inference numerics: "auto" = bf16 (a bf16 copy of the weights, what bf16 autocast computes) + channels-last
        # on CPUs with native bf16 (4-5x faster here, outputs within ~1e-3 of fp32, and the decoders were trained
        # under bf16 autocast); "fp32" otherwise. A ridge solution is fit in float64 and its large, cancelling
        # coefficients lose its accuracy in bf16, so a linear decoder stays fp32.
        self.precision = "fp32" if arch.network == "linear" else "auto"
        # test-time flip averaging, for representations that can mirror their code (HOG, LBP); off by default
        self.flip_average = False
        # the representation's code mirroring (see :func:`code_flip_for`); None: built from ``rep`` when needed
        self.code_flip: CodeFlip | None = None
        # the SHA-256 of the network weights whose codes this decoder learned to invert (CNN layers); a decoder
        # paired with other weights decodes codes it never saw, so loading refuses the pair (:func:`load_decoder`)
        self.encoder_sha256: str | None = None
        # how codes enter the network: see transform_codes
        self.code_transform = "identity"
        # (weights' addresses and versions, their storages, bf16 copy of ``net``): see ``_bf16_net``; a tuple, so
        # not a submodule
        self._bf16: tuple[tuple[tuple[int, int], ...], list[Any], nn.Module] | None = None

    @property
    def rep(self) -> str:
        return self.arch.rep

    @property
    def code_shape(self) -> tuple[int, ...]:
        return self.arch.code_shape

    @property
    def input_size(self) -> int:
        assert self.arch.input_size is not None  # set by DecoderArch
        return self.arch.input_size

    @property
    def output_size(self) -> int:
        return self.arch.output_size

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        if tuple(codes.shape[1:]) != self.code_shape:
            raise PreimageError(
                f"the {self.input_size}-px decoder for {self.rep} expects codes of shape {self.code_shape}, got "
                f"{tuple(codes.shape[1:])} — compute them at `input_size={self.input_size}`"
                f"{_other_sizes_hint(self.rep, self.input_size)}"
            )
        if not torch.isfinite(codes).all():
            raise PreimageError("codes contain NaN or Inf")
        if self.flip_average and not self.training:
            # the mirrored image's code decodes to the mirrored image: averaging both estimates of
            # E[x | Phi(x)] cancels part of the decoder's error (at twice the cost)
            flip = self.code_flip or _code_flip(self.rep, self.input_size)
            mirrored = self._decode(flip(codes)).flip(-1)
            return (self._decode(codes) + mirrored) / 2
        return self._decode(codes)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        codes = transform_codes(codes, self.code_transform)
        if self.training or not self._fast(codes):
            out = self.net(codes)
            return out if self.training else out.clamp(0, 1)
        if codes.dim() == 4:
            codes = codes.contiguous(memory_format=torch.channels_last)
        return self._bf16_net()(codes.to(torch.bfloat16)).float().clamp(0, 1).contiguous()

    def _bf16_net(self) -> nn.Module:
        """A bf16 copy of ``net`` for inference, made again whenever a weight changes.

        The same arithmetic as bf16 autocast (equal outputs), without casting every weight on every call,
        which is most of the time of decoding one image (and ~20% of a batch of 64) on a CPU. In-place updates
        (optimiser steps, ``load_state_dict``, ``.to()``) bump a tensor's ``_version``, new storage changes
        its address (the old storages are held, so no new one can take their address), so either makes a new
        copy. Writes through ``.data`` bump nothing: call :meth:`refresh` after them. Hooks on ``net`` run in
        training and fp32 mode only.
        """
        tensors = [*self.net.parameters(), *self.net.buffers()]
        key = tuple((t.data_ptr(), t._version) for t in tensors)
        if self._bf16 is None or self._bf16[0] != key:
            net = copy.deepcopy(self.net).to(torch.bfloat16)
            held = [t.untyped_storage() for t in tensors]
            self._bf16 = (key, held, net.to(memory_format=torch.channels_last))  # type: ignore[call-overload]
        return self._bf16[2]

    def refresh(self) -> None:
        """Drop the bf16 inference copy of the weights (after editing them through ``.data``)."""
        self._bf16 = None

    def _fast(self, codes: torch.Tensor) -> bool:
        if self.precision == "fp32" or codes.device.type != "cpu" or torch.is_grad_enabled():
            return False
        if self.precision not in ("auto", "bf16"):
            raise PreimageError(f"decoder precision must be 'auto', 'bf16' or 'fp32', not {self.precision!r}")
        return self.precision == "bf16" or _native_bf16()

    def config(self) -> dict[str, Any]:
        """What the decoder's file records: its architecture, the network it decodes and the code transform."""
        return {**self.arch.to_dict(), "encoder_sha256": self.encoder_sha256, "code_transform": self.code_transform}

    @classmethod
    def from_file(cls, path: str | Path) -> Decoder:
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise PreimageError(f"decoder weights not found: {path}")
        try:
            with safe_open(str(path), "pt") as fh:
                meta = fh.metadata() or {}
        except Exception as err:  # safetensors raises its own error types for foreign or truncated files
            raise PreimageError(
                f"{path} is not a safetensors decoder export ({type(err).__name__}) — pass the "
                "decoder_*.safetensors that train-decoder writes, not a checkpoint.pt"
            ) from None
        if "config" not in meta:
            raise PreimageError(f"{path} has no decoder config in its metadata — export it with preimage")
        try:
            cfg = json.loads(meta["config"])
            dec = cls(DecoderArch.from_dict(cfg))
            dec.encoder_sha256 = cfg.get("encoder_sha256")
            dec.code_transform = _checked_transform(cfg.get("code_transform", "identity"), path)
        except PreimageError:
            raise
        except (KeyError, TypeError, ValueError) as err:
            raise PreimageError(
                f"{path} has a damaged decoder config ({type(err).__name__}: {err}) — re-export it with preimage"
            ) from None
        dec.load_state_dict(_checked_tensors(dec, load_file(str(path)), path))
        return dec.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]

    @classmethod
    def from_pretrained(
        cls, rep: str | Representation, variant: str | None = None, size: int = DEFAULT_INPUT_SIZE
    ) -> Decoder:
        """The decoder shipped in the package zoo for ``rep`` (e.g. ``"hog"``, ``"alexnet64:conv3"``).

        ``size`` is the side of the image the representation sees: 64 (Tiny-ImageNet thumbnails, the
        default) or 224 (the paper's protocol: features of a full-resolution photo, decoded to 64 px).
        ``variant`` picks another shipped decoder for the same representation, e.g. ``"fast"`` for HOG: a
        cheaper sub-pixel student (see its model card for its error and speed). ``rep`` may be the built
        representation, whose name is already the canonical one.
        """
        rep = _canonical(rep)  # "lbp@16" is "lbp", "lbp@04" is "lbp@4"
        try:
            entry = zoo.find("decoder", rep, size, variant)
        except PreimageError as err:
            sizes = zoo.input_sizes("decoder", rep, variant)
            hint = (
                " — drop `variant` for the default decoder"
                if variant is not None and zoo.lookup("decoder", rep, size) is not None
                else f" — pass `size={sizes[0]}`, or train one with preimage train-decoder --size N --output-size M"
                if sizes
                else " — use --method optimize, or train one with preimage train-decoder"
            )
            raise PreimageError(f"{err}{hint}") from None
        dec = cls.from_file(entry.path)
        # a file that does not record the network it decodes: the catalogue says which weights it does
        dec.encoder_sha256 = dec.encoder_sha256 or entry.network_sha256
        return dec


CODE_TRANSFORMS = ("identity", "log", "centred-log")
_LOG_FLOOR = 1e-8


def transform_codes(codes: torch.Tensor, transform: str) -> torch.Tensor:
    """Codes as a decoder's network reads them: unchanged; ``log``: ``log(max(p, 1e-8))`` of class
    probabilities (their information is in the ratios of small probabilities, which a linear layer sees in log
    space); ``centred-log``: the same less its mean over the classes. Softmax forgets one constant of the
    logits, and the centred log-probabilities are the logits with that constant set to 0: the network reads
    values around 0, not around log(1/classes)."""
    if transform == "identity":
        return codes
    logs = codes.clamp_min(_LOG_FLOOR).log()
    return logs - logs.mean(dim=1, keepdim=True) if transform == "centred-log" else logs


def _checked_transform(name: str, path: Path) -> str:
    if name not in CODE_TRANSFORMS:
        raise PreimageError(f"{path} has an unknown code transform {name!r} — re-export it with preimage")
    return name


def check_encoder(decoder: Decoder, rep: Representation, source: str | Path) -> None:
    """Refuse a decoder trained on other network weights than ``rep``'s, in one line."""
    have = getattr(rep, "weights_sha256", None)
    want = decoder.encoder_sha256
    if want is not None and have is not None and want != have:
        raise PreimageError(
            f"{source} was trained on {rep.name} weights with SHA-256 {want[:12]}…, not on these ({have[:12]}…) — "
            "pass the weights it was trained on, or train a decoder for these weights with preimage train-decoder"
        )


def _checked_tensors(dec: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """The file's tensors as float32, after checking names, shapes and values against ``dec``: a hand-made or
    damaged file is a one-line error, not a traceback or black images."""
    expected = dec.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise PreimageError(
            f"{path} lacks {len(missing)} tensor(s) its config needs, e.g. {missing[0]} — re-export it with preimage"
        )
    unknown = [k for k in tensors if k not in expected]
    if unknown:
        raise PreimageError(f"{path} holds tensor {unknown[0]}, which its config has no place for — re-export it")
    for k, v in tensors.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise PreimageError(
                f"{path}: tensor {k} has shape {tuple(v.shape)}, its config needs {tuple(expected[k].shape)}"
                " — re-export it with preimage"
            )
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise PreimageError(f"{path}: tensor {k} holds NaN or Inf — the weights are damaged; use another file")
    return {k: v.float() for k, v in tensors.items()}


def _other_sizes_hint(rep: str, input_size: int) -> str:
    """``"; the shipped 224-px decoder (size=224) inverts ..."``: where a code of another size belongs."""
    others = [s for s in shipped_sizes(rep) if s != input_size]
    if not others:
        return ""
    return "; for codes of other image sizes use the shipped " + ", ".join(
        f"{s}-px decoder (`size={s}`)" for s in others
    )


def _canonical(rep: str | Representation) -> str:
    """The name decoder files go by: a built representation's own name, or a name string made canonical."""
    if isinstance(rep, Representation):
        return rep.name
    from preimage.representations import canonical_name  # only for callers that name the representation

    return canonical_name(rep)


def code_flip_for(rep: Representation, input_size: int) -> CodeFlip:
    """``rep``'s code of the mirrored image, from the code: exact only when whole cells tile the image."""
    flip = getattr(rep, "flip_code", None)
    if flip is None:
        raise PreimageError(
            f"flip averaging needs a representation that can mirror its code (hog, lbp), not {rep.name!r}"
        )
    cell = int(getattr(rep, "cell_size", 1))
    if input_size % cell:
        raise PreimageError(
            f"flip averaging: {rep.name} codes mirror exactly only when its {cell}-px cells tile the image, not "
            f"{input_size} px — drop `flip_average`, or use a size that is a multiple of {cell}"
        )
    return flip


@functools.cache
def _code_flip(rep: str, input_size: int) -> CodeFlip:
    """:func:`code_flip_for` of the representation named ``rep`` (for a decoder used on its own)."""
    if ":" in rep:
        raise PreimageError(f"flip averaging needs a representation that can mirror its code (hog, lbp), not {rep!r}")
    from preimage.representations import create_representation  # only for a decoder used without its Inverter

    return code_flip_for(create_representation(rep), input_size)


@functools.cache
def _native_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX512-BF16 / AMX); emulated bf16 is slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def shipped_reps() -> list[str]:
    """The representations the zoo has a default 64-px decoder for (not variants or autoencoders), sorted."""
    return zoo.names("decoder")


def shipped_sizes(rep: str) -> list[int]:
    """The input sizes the zoo has a default decoder of ``rep`` for (64 first, when there is one)."""
    return zoo.input_sizes("decoder", rep)


def shipped_variants(rep: str, size: int = DEFAULT_INPUT_SIZE) -> list[str]:
    return zoo.variants("decoder", rep, size)


def load_decoder(
    rep: str | Representation,
    weights: str | Path | None = None,
    size: int | None = None,
    variant: str | None = None,
) -> Decoder:
    """The shipped decoder for ``rep`` at input ``size`` (or its ``variant``), or the one in ``weights``
    (a ``train-decoder`` export), checked to fit: a built ``rep`` is also checked to have the network weights
    the decoder was trained on."""
    if weights is not None and variant is not None:
        raise PreimageError("`weights` and `variant` both pick the decoder; pass one of them")
    built = rep if isinstance(rep, Representation) else None
    rep = _canonical(rep)
    if weights is None:
        dec = Decoder.from_pretrained(rep, variant, DEFAULT_INPUT_SIZE if size is None else size)
        if built is not None:
            check_encoder(dec, built, f"the shipped {rep} decoder")
        return dec
    if Path(weights).stem.endswith("_autoencoder"):
        raise PreimageError(
            f"{weights} was trained with a fine-tuned encoder: it decodes that encoder's codes, not {rep}'s "
            "— use `method=autoencoder`, or a decoder trained with the encoder fixed"
        )
    dec = Decoder.from_file(weights)
    if dec.rep != rep or (size is not None and dec.input_size != size):
        raise PreimageError(
            f"`weights` {weights} inverts {dec.rep} of {dec.input_size}-px images, not {rep}"
            f"{f' of {size}-px images' if size is not None else ''} — pass `rep={dec.rep}` and "
            f"`input_size={dec.input_size}`, or weights trained for this representation"
        )
    if built is not None:
        check_encoder(dec, built, weights)
    return dec


@torch.no_grad()
def invert_with_decoder(
    rep: str,
    codes: torch.Tensor,
    batch: int = 256,
    flip_average: bool = False,
    weights: str | Path | None = None,
    variant: str | None = None,
    size: int | None = None,
) -> torch.Tensor:
    """One forward pass of the shipped decoder for ``rep`` (its ``variant``, or ``weights``), batched.

    Two passes with ``flip_average``.
    """
    dec = load_decoder(rep, weights, size, variant)
    dec.flip_average = flip_average
    return torch.cat([dec(codes[i : i + batch]) for i in range(0, len(codes), batch)])


def load_autoencoder(rep: str) -> tuple[nn.Module, Decoder]:
    """The fine-tuned encoder (a layer tap on the fine-tuned network) and its decoder, from the zoo."""
    from preimage.models.registry import load_state_dict_file
    from preimage.representations.cnn import create_cnn_representation, parse_tap

    try:
        entry = zoo.find("autoencoder", rep)
    except PreimageError:
        raise PreimageError(
            f"no autoencoder for {rep!r} is shipped (shipped: {', '.join(zoo.names('autoencoder')) or 'none'}) — "
            f"train one with preimage train-decoder --rep {rep} --finetune-encoder"
        ) from None
    dec_path, enc_path = entry.path, entry.companion("encoder")
    model_name, _ = parse_tap(rep)
    from preimage.models import create_model

    net = create_model(model_name, weights="default")
    tuned = load_state_dict_file(enc_path)  # the fine-tuned layers up to the tap; the rest stays as shipped
    unknown = sorted(set(tuned) - set(net.state_dict()))
    if unknown:
        raise PreimageError(f"{enc_path} holds weights {model_name} does not have: {', '.join(unknown[:3])}")
    net.load_state_dict(tuned, strict=False)
    return create_cnn_representation(rep, model=net.eval()), Decoder.from_file(dec_path)
