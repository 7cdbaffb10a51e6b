"""A user's own network, registered for one run: ``--model NAME=MODULE:FACTORY``.

``MODULE`` is imported (from the current folder or ``PYTHONPATH``) and ``FACTORY()`` must return an
``nn.Module``; it is registered as ``NAME``, so ``NAME:LAYER`` (a dotted module name) works wherever a
registered model's layers do. Its input size and normalisation come from attributes the factory may set on
the module (``input_size``, ``mean``, ``std``), else from the caller (``--model-size``, ``--model-mean``,
``--model-std``), else 224 and ImageNet's statistics. Without ``--weights`` the network keeps the weights its
factory gave it. Importing the module runs the user's code, by the user's choice: nothing is imported that
the user did not name.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import sys
from collections.abc import Sequence

import torch
from torch import nn

from preimage.errors import PreimageError, nearest
from preimage.models.registry import MODELS, ModelConfig, get_config

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SPEC = re.compile(r"^(?P<name>[A-Za-z_][\w-]*)=(?P<module>[A-Za-z_][\w.]*):(?P<factory>[A-Za-z_]\w*)$")


def parse_model_spec(spec: str) -> tuple[str, str, str]:
    """``NAME=MODULE:FACTORY`` -> ``(name, module, factory)``, or a one-line error showing the form."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise PreimageError(
            f"--model {spec!r}: expected NAME=MODULE:FACTORY, e.g. mynet=mymodels:build_net (a module on the "
            "current folder or PYTHONPATH, a function in it that returns an nn.Module)"
        )
    return match["name"], match["module"], match["factory"]


def _import(module: str, spec: str) -> object:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # "from the current folder", as python -m would
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and (module == err.name or module.startswith(err.name + ".")):
            raise PreimageError(
                f"--model {spec}: no module {module!r} in the current folder or on PYTHONPATH — run from the folder "
                "that holds it, or add that folder to PYTHONPATH"
            ) from None
        raise PreimageError(
            f"--model {spec}: importing {module} failed: it needs {err.name!r}, not installed"
        ) from None
    except Exception as err:  # the user's module raised while importing: say what, not a traceback
        raise PreimageError(f"--model {spec}: importing {module} raised {type(err).__name__}: {err}") from None


def _build(spec: str, module: str, factory: str) -> nn.Module:
    loaded = _import(module, spec)
    build = getattr(loaded, factory, None)
    if not callable(build):
        names = [n for n in dir(loaded) if not n.startswith("_") and callable(getattr(loaded, n))]
        guess = nearest(factory, names)
        hint = f"did you mean {guess!r}? " if guess else ""
        raise PreimageError(
            f"--model {spec}: {module} has no function {factory!r} — {hint}it has: {', '.join(names[:12])}"
        )
    try:
        net = build()
    except Exception as err:
        raise PreimageError(f"--model {spec}: {factory}() raised {type(err).__name__}: {err}") from None
    if not isinstance(net, nn.Module):
        raise PreimageError(f"--model {spec}: {factory}() returned a {type(net).__name__}, not a torch nn.Module")
    return net


def state_sha256(model: nn.Module) -> str:
    """SHA-256 of a network's state (names, shapes, dtypes, values): what a decoder of its codes records when
    the weights come from a factory rather than a file."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def register_user_model(
    spec: str,
    input_size: int | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> str:
    """Import, build and register ``NAME=MODULE:FACTORY`` for this process; returns ``NAME``."""
    name, module, factory = parse_model_spec(spec)
    if name in MODELS and get_config(name).factory != f"{module}:{factory}":
        raise PreimageError(f"--model {spec}: {name!r} is already a registered model — pick another NAME")
    net = _build(spec, module, factory).eval()
    size = int(input_size or getattr(net, "input_size", 0) or 224)
    mean = tuple(mean or getattr(net, "mean", None) or IMAGENET_MEAN)
    std = tuple(std or getattr(net, "std", None) or IMAGENET_STD)
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise PreimageError(f"--model {spec}: mean and std need 3 values each (RGB), std > 0; got {mean}, {std}")
    try:
        with torch.no_grad():
            out = net(torch.zeros(1, 3, size, size))
    except Exception as err:
        raise PreimageError(
            f"--model {spec}: its forward fails on a 1x3x{size}x{size} input ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:160]}) — pass --model-size, or set input_size on the module"
        ) from None
    classes = int(out.shape[-1]) if isinstance(out, torch.Tensor) and out.dim() == 2 else 0
    config = ModelConfig(
        name, size, mean, std, classes, description=f"{module}:{factory} (--model)", factory=f"{module}:{factory}"
    )
    built = [net]  # the network built for the checks above serves the first request; later ones build anew
    MODELS.add(
        name,
        lambda: built.pop() if built else _build(spec, module, factory),
        config.description,
        replace=True,
        config=config,
    )
    return name
