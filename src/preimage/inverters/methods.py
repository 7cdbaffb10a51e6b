"""The registered inverters: thin :class:`~preimage.inverters.base.Inverter` classes around the functional
forms (:class:`~preimage.inverters.decoders.Decoder`, :func:`~preimage.inverters.optimize.invert_optimize`,
:class:`~preimage.inverters.hoggles.PairedDictionary`, :func:`~preimage.inverters.codes.keep_channels`).

Each takes the built representation and its own options; :func:`preimage.inverters.create_inverter` refuses
options a method does not take before the inverter is built.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from preimage import zoo
from preimage.errors import PreimageError
from preimage.inverters.base import DEFAULT_INPUT_SIZE, Inverter, output_size_for, register_inverter
from preimage.inverters.codes import keep_channels
from preimage.inverters.decoders import code_flip_for, load_autoencoder, load_decoder
from preimage.inverters.optimize import OptimizationInverter
from preimage.inverters.xia import XIA_INVERSION, XIA_RECIPES, XiaConfig, as_recipe, xia_invert
from preimage.representations.base import Representation


@register_inverter("decoder")
class DecoderInverter(Inverter):
    """The learned decoder of Dosovitskiy & Brox: one forward pass, ``E[x | Phi(x)]``.

    Args:
        rep: the representation (its shipped decoder for ``input_size``-px images is loaded).
        variant: another shipped decoder for the same representation (e.g. ``"fast"`` for HOG).
        weights: a ``train-decoder`` export to use instead of the shipped decoder.
        flip_average: average with the mirrored code's decoding, mirrored back (HOG, LBP; twice the cost).

    Shape:
        - Input: :math:`(B, *code\\_shape)`. Output: :math:`(B, 3, S, S)`, ``S`` the decoder's own side (64)
          unless ``output_size`` says otherwise.

    Example:
        >>> from preimage.inverters import create_inverter
        >>> from preimage.representations import create_representation
        >>> hog = create_representation("hog")
        >>> create_inverter("decoder", hog)(hog(torch.rand(2, 3, 64, 64))).shape
        torch.Size([2, 3, 64, 64])
    """

    what = "the decoder"

    def __init__(
        self,
        rep: Representation,
        input_size: int = DEFAULT_INPUT_SIZE,
        output_size: int | None = None,
        variant: str | None = None,
        weights: str | Path | None = None,
        flip_average: bool = False,
    ) -> None:
        super().__init__(rep, input_size, output_size)
        self.decoder = load_decoder(rep, weights, input_size, variant)
        self.decoder.flip_average = flip_average
        if flip_average:  # refused here, not at the first decode, for a representation that cannot mirror
            self.decoder.code_flip = code_flip_for(rep, input_size)
        self.variant, self.weights = variant, weights

    @property
    def code_shape(self) -> tuple[int, ...]:
        return self.decoder.code_shape

    def check_codes(self, codes: torch.Tensor) -> None:
        pass  # the decoder's own check names the size its codes belong to and the shipped decoders of others

    def default_output_size(self, native: int) -> int:
        return output_size_for(native, self.input_size, None, decoder=True)

    @torch.no_grad()
    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes)


@register_inverter("linear")
class LinearInverter(DecoderInverter):
    """The linear baseline: ridge regression's one matrix from the code to a thumbnail, upsampled (one
    forward pass). The control every learned decoder must beat (``preimage fit-linear`` fits one).

    Args:
        rep: the representation (its shipped linear decoder for ``input_size``-px images is loaded).
        weights: a ``fit-linear`` export to use instead of the shipped one.

    Shape:
        - Input: :math:`(B, *code\\_shape)`. Output: :math:`(B, 3, S, S)`, ``S`` the decoder's own side (64)
          unless ``output_size`` says otherwise.
    """

    what = "the linear baseline"

    def __init__(
        self,
        rep: Representation,
        input_size: int = DEFAULT_INPUT_SIZE,
        output_size: int | None = None,
        weights: str | Path | None = None,
    ) -> None:
        if weights is None and zoo.lookup("decoder", rep.name, input_size, "linear") is None:
            raise PreimageError(
                f"no linear baseline for {rep.name} on {input_size}-px images is shipped — fit one with "
                f"preimage fit-linear --rep {rep.name} --size {input_size}"
            )
        super().__init__(rep, input_size, output_size, None if weights else "linear", weights)
        if self.decoder.arch.network != "linear":
            raise PreimageError(f"{weights} is a learned decoder, not a linear one — use `method=decoder` for it")


@register_inverter("autoencoder")
class AutoencoderInverter(Inverter):
    """A shipped autoencoder: a CNN layer tap fine-tuned together with its decoder.

    Its codes are the *fine-tuned* tap's (:attr:`encoder`, :meth:`encode`), not ``rep``'s.

    Shape:
        - Input: :math:`(B, *code\\_shape)` of the fine-tuned tap on 64-px images. Output: :math:`(B, 3, 64, 64)`.
    """

    what = "the autoencoder"

    def __init__(
        self, rep: Representation, input_size: int = DEFAULT_INPUT_SIZE, output_size: int | None = None
    ) -> None:
        super().__init__(rep, input_size, output_size)
        if input_size != 64:
            raise PreimageError(
                f"the shipped autoencoders see 64-px images, not {input_size} px — pass `input_size=64`"
            )
        tuned, self.decoder = load_autoencoder(rep.name)
        self.tuned: nn.Module = tuned

    @property
    def encoder(self) -> nn.Module:
        return self.tuned

    @property
    def code_shape(self) -> tuple[int, ...]:
        return self.decoder.code_shape

    @torch.no_grad()
    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes)


@register_inverter("optimize")
class OptimizeInverter(Inverter):
    """Mahendran & Vedaldi's optimisation: gradient descent on the image until its code matches.

    Args:
        preset: a recipe (``"mahendran"``, ``"xia"``, ``"xia-literal"``); default: the representation's own
            tuned settings.
        steps, lr, seed: override the recipe's.
        batch: codes optimised together (None: all at once); each image's objective is its own.
        progress: show a progress bar.

    Shape:
        - Input: :math:`(B, *code\\_shape)`. Output: :math:`(B, 3, S, S)`, ``S = min(input_size, 64)`` unless
          ``output_size`` says otherwise (optimised at ``input_size``).
    """

    what = "optimisation"

    def __init__(
        self,
        rep: Representation,
        input_size: int = DEFAULT_INPUT_SIZE,
        output_size: int | None = None,
        preset: str | None = None,
        steps: int | None = None,
        lr: float | None = None,
        seed: int = 0,
        batch: int | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__(rep, input_size, output_size)
        overrides = {"seed": seed, "progress": progress, "steps": steps, "lr": lr}
        # --preset xia / xia-literal run the official code's recipe (preimage.inverters.xia), ``steps`` capping
        # its updates; the optimiser below then only refuses a non-differentiable representation
        self.xia: XiaConfig | None = None
        if preset in XIA_RECIPES:
            capped = {"max_steps": steps} if steps is not None else {}
            self.xia = replace(as_recipe(XIA_INVERSION, preset), seed=seed, **capped)
        # built once: the recipe is resolved and a non-differentiable representation refused here
        self.optimizer = OptimizationInverter(
            rep, None if self.xia else preset, **{k: v for k, v in overrides.items() if v is not None}
        )
        self.batch = batch

    @property
    def target(self) -> nn.Module:
        """What the optimisation runs on every step: the representation, or its surrogate for gradients."""
        return self.optimizer.encoder  # type: ignore[return-value]

    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        if self.xia is not None:
            return xia_invert(self.rep, codes, self.input_size, self.xia)
        return self.optimizer(codes, self.input_size)

    def extra_repr(self) -> str:
        c = self.optimizer.config
        return f"{super().extra_repr()}, steps={c.steps}, optimizer={c.optimizer!r}, lr={c.lr}, seed={c.seed}"


@register_inverter("hoggles")
class HogglesInverter(Inverter):
    """HOGgles (Vondrick et al. 2013): the paired-dictionary baseline; HOG only.

    Shape:
        - Input: :math:`(B, 31, h, w)`. Output: :math:`(B, 3, S, S)`, ``S = min(8h, 64)`` unless ``output_size``
          says otherwise.
    """

    what = "HOGgles"

    def __init__(
        self, rep: Representation, input_size: int = DEFAULT_INPUT_SIZE, output_size: int | None = None
    ) -> None:
        from preimage.inverters.hoggles import PairedDictionary

        super().__init__(rep, input_size, output_size)
        if rep.name != "hog":  # the name every spelling of HOG's default (hog, hog@8) goes by
            raise PreimageError(f"hoggles invert HOG only, not {rep.name!r}; use `method=decoder`")
        self.dictionary = PairedDictionary.from_pretrained()

    @torch.no_grad()
    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        return self.dictionary(codes)


@register_inverter("textures")
class TextureInverter(Inverter):
    """Feature-map inversion (Xia et al. 2016) with the settings of ``preimage textures``.

    With ``channel``, only that filter's map is kept (it receives the sum over all maps) before inverting:
    the texture the filter extracts. Without, the whole map is inverted.

    Args:
        rep: a layer tap with feature maps (``alexnet64:conv2``).
        channel: the filter whose texture is made (None: the whole code).
        steps, seed: of the optimisation (``TEXTURE_PRESET``: Adam on the normalised loss; ``preset="xia"``:
            Xia et al.'s numbers in Caffe units).

    Shape:
        - Input: :math:`(B, C, h, w)`. Output: :math:`(B, 3, S, S)`, ``S = min(input_size, 64)`` unless
          ``output_size`` says otherwise.
    """

    what = "feature-map inversion"
    batch = 64

    def __init__(
        self,
        rep: Representation,
        input_size: int = DEFAULT_INPUT_SIZE,
        output_size: int | None = None,
        channel: int | None = None,
        steps: int | None = None,
        seed: int = 0,
        preset: str | None = None,
    ) -> None:
        super().__init__(rep, input_size, output_size)
        shape = self.code_shape
        if len(shape) != 3:
            raise PreimageError(f"{rep.name} gives vectors, not feature maps — pick a convolutional layer")
        if channel is not None and not 0 <= channel < shape[0]:
            raise PreimageError(f"{rep.name} has {shape[0]} filters: pick a channel in 0..{shape[0] - 1}")
        self.channel = channel
        if preset is None:
            # the recipe of `preimage textures` (TEXTURE_PRESET, as experiments.feature_maps.texture_config)
            from preimage.inverters.feature_maps import TEXTURE_PRESET

            config = replace(TEXTURE_PRESET, steps=steps or TEXTURE_PRESET.steps, seed=seed)
            self.optimizer = OptimizationInverter(rep, config)
        else:
            extra = {"steps": steps} if steps is not None else {}
            self.optimizer = OptimizationInverter(rep, preset, seed=seed, progress=False, **extra)

    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        if self.channel is not None:
            codes = keep_channels(codes, self.channel)
        return self.optimizer(codes, self.input_size)
