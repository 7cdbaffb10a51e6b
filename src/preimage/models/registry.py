"""The model registry: architectures with their configs kept as data, timm-style."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.files import file_sha256
from preimage.registry import Registry


@dataclass(frozen=True)
class ModelConfig:
    """What a user must know to feed a model and read its layers.

    ``aliases`` maps paper layer names (``conv3``, ``fc7``, ``relu4_1``) to the
    dotted module whose output *is* that layer; ``prob`` is the softmax of the
    model output and has no module.
    """

    name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    num_classes: int
    aliases: dict[str, str] = field(default_factory=dict)
    ships_weights: bool = False  # the zoo has weights for it (a "network" entry of preimage.zoo)
    weights_licence: str = ""
    description: str = ""
    factory: str = ""  # MODULE:FACTORY of a user's network (--model NAME=MODULE:FACTORY); its weights are its own


MODELS: Registry[nn.Module] = Registry("model")


def register_model(config: ModelConfig) -> Callable[[Callable[[], nn.Module]], Callable[[], nn.Module]]:
    """Decorator: register an architecture builder with its config."""
    return MODELS.register(config.name, config.description, config=config)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a glob pattern."""
    return MODELS.names(pattern)


def get_config(name: str) -> ModelConfig:
    config: ModelConfig = MODELS.extra(name)["config"]
    return config


def default_weights_path(name: str) -> Path | None:
    """Where the shipped weights of ``name`` live, if it ships any and they are present."""
    from preimage import zoo

    entry = zoo.lookup("network", name) if get_config(name).ships_weights else None
    return entry.path if entry is not None else None


def class_names(name: str) -> list[str]:
    """Human-readable class names of a registered model, when it ships them (``zoo/<name>_classes.tsv``)."""
    from preimage import zoo

    entry = zoo.lookup("network", name)
    path = entry.companion("classes") if entry is not None and "classes" in entry.companions else None
    if path is None or not path.is_file():
        cfg = get_config(name)
        return [f"class {i}" for i in range(cfg.num_classes)]
    names = [line.split("\t", 1)[1].split(",")[0].strip() for line in path.read_text().splitlines() if line]
    return names


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or torchvision-style ``.pth`` state dict, as float32."""
    path = Path(path)
    if not path.is_file():
        raise PreimageError(f"weights file not found: {path} — check the path")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types for foreign or truncated files
            raise PreimageError(f"cannot read weights {path}: {exc.__class__.__name__} — the file is damaged") from None
    else:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad pickle
            raise PreimageError(
                f"cannot read weights {path}: {exc.__class__.__name__} — "
                "expected a torch state dict (.pth) or .safetensors"
            ) from None
        raw = obj.get("state_dict", obj.get("model", obj)) if isinstance(obj, dict) else obj
        if not isinstance(raw, dict):
            raise PreimageError(f"{path} holds a {type(obj).__name__}, not a state dict — save model.state_dict()")
        state = raw
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            raise PreimageError(f"{path}: entry {k} is a {type(v).__name__}, not a tensor — save model.state_dict()")
        # a network with one NaN weight computes NaN codes for every image: refuse it before any work
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise PreimageError(f"{path}: tensor {k} holds NaN or Inf — the weights are damaged; use another file")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def features_source(path: str | Path) -> str | None:
    """The SHA-256 of the network file whose convolutions (``features``) this network file carries unchanged,
    as ``train-classifier --frozen-features`` records it; None when they were trained in this file."""
    if Path(path).suffix != ".safetensors":
        return None
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        return (fh.metadata() or {}).get("features_sha256")


def create_model(name: str, weights: str | Path | None = None) -> nn.Module:
    """Build a registered model in eval mode; ``weights`` is ``None``, ``"default"`` or a file.

    ``"default"`` loads the weights shipped inside the package (offline); a path
    loads a ``.pth`` (e.g. torchvision's download) or ``.safetensors`` file with
    ``strict=True``, so a mismatch is an error rather than a silent partial load.
    """
    config = get_config(name)
    model = MODELS.get(name)()
    if weights is not None and str(weights) == "default" and config.factory:
        from preimage.models.user import state_sha256

        # a user's network keeps the weights its factory gave it; decoders record which
        model.preimage_weights_sha256 = state_sha256(model)  # type: ignore[assignment]
    elif weights is not None:
        if str(weights) == "default":
            path = default_weights_path(name)
            if path is None:
                raise PreimageError(
                    f"model {name!r} ships no weights — pass `weights=PATH` to a "
                    ".pth/.safetensors file"
                    " (e.g. the torchvision download)"
                )
        else:
            path = Path(weights)
        state = load_state_dict_file(path)
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        wrong = [
            f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
            for k, v in own.items()
            if k in state and state[k].shape != v.shape
        ]
        if missing or unexpected or wrong:
            raise PreimageError(
                f"weights {path} do not fit {name}: missing {missing[:3]}, unexpected {unexpected[:3]}, "
                f"wrong shapes {wrong[:2]} — use a state dict of the same architecture"
            )
        model.load_state_dict(state, strict=True)
        # decoders record the weights they were trained on and refuse others (preimage.inverters.decoders)
        model.preimage_weights_sha256 = file_sha256(path)  # type: ignore[assignment]
        model.preimage_features_sha256 = features_source(path)  # type: ignore[assignment]
    model.eval()
    model.preimage_config = config  # type: ignore[assignment]
    return model
