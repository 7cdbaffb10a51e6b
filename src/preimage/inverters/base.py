"""The inverter contract: codes ``(B, *code_shape)`` of ``input_size``-px images -> images ``(B, 3, S, S)``.

Every way of inverting (a learned decoder, an autoencoder, optimisation, HOGgles, feature-map inversion) is an
:class:`Inverter`, built by name from :data:`INVERTERS` with :func:`preimage.inverters.create_inverter`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.registry import Registry
from preimage.representations.base import Representation

# the side of the reconstructions every shipped decoder predicts (the paper's downsampled targets), and so the
# default output of the other methods for larger inputs, which makes every method's error comparable
DEFAULT_OUTPUT_SIZE = 64
# the image side of the Tiny-ImageNet protocol: the default size of the images codes are computed from
DEFAULT_INPUT_SIZE = 64


def output_size_for(method_native: int, input_size: int, output_size: int | None, decoder: bool) -> int:
    """The side reconstructions are delivered at: ``output_size``, else the decoder's own, else
    ``min(input_size, 64)`` (optimisation and HOGgles reconstruct at the input size, then downsample)."""
    if output_size is not None:
        return output_size
    return method_native if decoder else min(input_size, DEFAULT_OUTPUT_SIZE)


def to_output_size(recon: torch.Tensor, size: int, what: str) -> torch.Tensor:
    """Bring reconstructions ``(N, 3, s, s)`` to ``size``: downsampled with antialiasing (the protocol's
    filter), or upsampled bilinearly with a warning, since that adds no detail to what ``what`` produced."""
    from preimage.data.images import resize

    native = recon.shape[-1]
    if size > native:
        print(
            f"preimage: warning: an output size of {size} px is larger than the {native}-px output of {what}: "
            "upsampled bilinearly, which adds no detail",
            file=sys.stderr,
        )
    return resize(recon, size)


class Inverter(nn.Module):
    """Base class: inverts the codes of one built representation back into images.

    Args:
        rep: the representation whose codes are inverted (its ``name`` is its canonical name).
        input_size: the side of the images the codes were computed from.
        output_size: the side of the returned images (default :meth:`default_output_size`).

    Shape:
        - Input: codes :math:`(B, *code\\_shape)`, ``code_shape = encoder.out_shape(input_size)``.
        - Output: :math:`(B, 3, S, S)` in ``[0, 1]``, ``S = output_size``.

    Subclasses set ``what`` (how messages name the method) and implement :meth:`invert`, which returns images
    at the method's own size; :meth:`forward` checks the codes, runs :meth:`invert` on batches of ``batch``
    codes and brings the result to ``output_size``.
    """

    what = "the inverter"
    # codes inverted per call of :meth:`invert` (None: all at once)
    batch: int | None = 256

    def __init__(self, rep: Representation, input_size: int = DEFAULT_INPUT_SIZE, output_size: int | None = None):
        super().__init__()
        if input_size < 1 or (output_size is not None and output_size < 1):
            raise PreimageError(f"{self.what}: image sizes must be positive, got {input_size} and {output_size}")
        self.rep = rep
        self.input_size = int(input_size)
        self.output_size = output_size

    @property
    def encoder(self) -> nn.Module:
        """The representation whose codes :meth:`forward` takes (the fine-tuned one for an autoencoder)."""
        return self.rep

    @property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.rep.out_shape(self.input_size))

    def default_output_size(self, native: int) -> int:
        """The output side when none is asked for, given the ``native`` side :meth:`invert` produced."""
        return output_size_for(native, self.input_size, None, decoder=False)

    def check_codes(self, codes: torch.Tensor) -> None:
        """One-line errors for codes that do not belong to this inverter."""
        if not isinstance(codes, torch.Tensor):
            raise PreimageError(f"{self.what}: expected a torch.Tensor of codes, got {type(codes).__name__}")
        if codes.dim() < 2 or tuple(codes.shape[1:]) != self.code_shape:
            raise PreimageError(
                f"{self.what} of {self.rep.name} at {self.input_size} px expects codes of shape "
                f"(B, {', '.join(map(str, self.code_shape))}), got {tuple(codes.shape)} — compute them at "
                f"`input_size={self.input_size}`"
            )
        if not torch.isfinite(codes).all():
            raise PreimageError(f"{self.what}: codes contain NaN or Inf")

    def invert(self, codes: torch.Tensor) -> torch.Tensor:
        """Images ``(b, 3, s, s)`` at the method's own size ``s`` for one batch of checked codes."""
        raise NotImplementedError

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        self.check_codes(codes)
        step = self.batch or max(1, len(codes))
        out = torch.cat([self.invert(codes[i : i + step]) for i in range(0, len(codes), step)])
        size = self.output_size if self.output_size is not None else self.default_output_size(out.shape[-1])
        return to_output_size(out, size, self.what)

    @torch.no_grad()
    def encode(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """The codes ``(B, *code_shape)`` this inverter takes, of ``(B, 3, input_size, input_size)`` images."""
        return torch.cat([self.encoder(images[i : i + batch]) for i in range(0, len(images), batch)])

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """``forward(encode(images))``: the reconstructions of ``images`` from their codes."""
        return self(self.encode(images))

    def extra_repr(self) -> str:
        return f"rep={self.rep.name!r}, input_size={self.input_size}, output_size={self.output_size}"


INVERTERS: Registry[Inverter] = Registry("inverter")
# options whose refusal names the method that takes them, and what they do (None: "is for that method")
OPTION_PURPOSES: dict[str, str | None] = {"flip_average": "averages decoder outputs", "weights": None, "variant": None}
# every inverter takes these (see :class:`Inverter`)
COMMON_OPTIONS = ("input_size", "output_size")


def register_inverter(name: str, help: str = "") -> Callable[[Callable[..., Inverter]], Callable[..., Inverter]]:
    """Decorator: ``@register_inverter("decoder")`` on a class or factory ``(rep, **options) -> Inverter``."""
    return INVERTERS.register(name, help)


def inverter_options(name: str) -> list[str]:
    """The options ``create_inverter(name, rep, ...)`` takes, besides the representation."""
    params = list(inspect.signature(INVERTERS.get(name)).parameters.values())
    return [p.name for p in params[1:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def taken_options(name: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The run-wide ``settings`` (a seed, a progress bar) that inverter ``name`` has a use for.

    For settings that apply to every method that has them; options that only make sense for some methods are
    passed to :func:`create_inverter` as they are, so that the others refuse them.
    """
    taken = set(inverter_options(name))
    return {k: v for k, v in settings.items() if k in taken}


def refuse_options(name: str, given: Iterable[str]) -> None:
    """A one-line error for the first of ``given`` that inverter ``name`` does not take."""
    taken = inverter_options(name)
    for option in given:
        if option in taken:
            continue
        takers = [n for n in INVERTERS.names() if option in inverter_options(n)]
        python = f"(create_inverter option {option!r}; {name} takes {', '.join(taken)})"
        if option in OPTION_PURPOSES and takers:
            methods = " or ".join(takers)
            purpose = OPTION_PURPOSES[option] or f"is for `method={methods}`"
            raise PreimageError(f"`{option}` {purpose}; drop it or use `method={methods}`, not {name} {python}")
        where = f"; it is an option of {', '.join(takers)}" if takers else ""
        raise PreimageError(f"the {name} inverter takes no option {option!r}{where} {python}")
