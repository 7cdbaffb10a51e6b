"""Argument types checked where they are parsed, and a help formatter that shows every default.

A bad value (``--size 0``, ``--limit -1``, ``--batch-size 0``) stops at parse time with one line that says
the allowed range, before a model is built or an image decoded.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import Any

from preimage.errors import PreimageError
from preimage.options import (  # noqa: F401 (the value checks every command module uses, as args.NAME)
    MAX_SIZE,
    MIN_SIZE,
    decay,
    field_flag,
    field_types,
    float_range,
    int_range,
    is_required,
    non_negative,
    non_negative_float,
    option_metadata,
    positive,
    positive_float,
    probability,
    read_config_file,
    seed,
    size,
    threads,
)

DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own limit: 0.27 GB as 8-bit RGB, 1.07 GB as float32 RGB

_PLACEHOLDER = re.compile(r"%(?!\(\w+\)[sdrf])")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option whose help does not already say its default, and prints a
    literal ``%`` (``95% CI``) instead of failing on it as a format character."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)

    def _expand_help(self, action: argparse.Action) -> str:
        if action.help:
            action.help = _PLACEHOLDER.sub("%%", action.help.replace("%%", "%"))
        return super()._expand_help(action)


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """Options every sub-command takes: outputs, threads, damaged inputs and huge images."""
    g = p.add_argument_group("common options")
    if not any("--model" in a.option_strings for a in p._actions):
        # the commands that name one network by --model take NAME=MODULE:FACTORY there instead
        g.add_argument(
            "--model",
            dest="user_models",
            action="append",
            default=[],
            metavar="NAME=MODULE:FACTORY",
            help="your own network for --rep NAME:LAYER: MODULE (from the current folder or PYTHONPATH) is "
            "imported and FACTORY() must return an nn.Module (repeatable); e.g. r18=torchvision.models:resnet18",
        )
    g.add_argument(
        "--model-size",
        type=size,
        default=None,
        help="input side of --model networks (default: their input_size, else 224)",
    )
    g.add_argument(
        "--model-mean",
        type=float,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="input mean of --model networks, in [0, 1] (default: their mean attribute, else ImageNet's)",
    )
    g.add_argument(
        "--model-std",
        type=float,
        nargs=3,
        default=None,
        metavar=("R", "G", "B"),
        help="input std of --model networks (default: their std attribute, else ImageNet's)",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace output files that exist (without it, an existing output is an error naming it)",
    )
    g.add_argument(
        "--threads",
        type=threads,
        default=None,
        help="torch threads (default: the cores this process may run on, from its CPU affinity)",
    )
    g.add_argument(
        "--strict",
        action="store_true",
        help="a corrupt image in a folder or shard, or a truncated shard, is an error (default: skipped with "
        "one warning line and counted as 'skipped' in the JSON)",
    )
    g.add_argument(
        "--max-pixels",
        type=positive,
        default=DEFAULT_MAX_PIXELS,
        help="largest image accepted, in pixels (width x height); a larger one is a one-line error before it "
        f"is decoded (default: {DEFAULT_MAX_PIXELS}, Pillow's limit: about 1 GB decoded as float32)",
    )


def add_config_arguments(p: argparse.ArgumentParser, cls: type) -> None:
    """One flag per field of the config dataclass ``cls`` (its :func:`preimage.options.option`: help, check,
    choices, flags), and ``--config FILE.toml`` setting the same fields by name; flags given win over the
    file, the file over the defaults (see :func:`config_from_args`)."""
    kinds = field_types(cls)
    for f in dataclasses.fields(cls):
        meta = option_metadata(cls, f.name)
        if not meta["cli"]:
            continue
        default = None if is_required(f) else f.default_factory() if callable(f.default_factory) else f.default
        shown = "required, here or in --config" if is_required(f) else f"default {default}"
        extra: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": f"{meta['help']} ({shown})"}
        if kinds[f.name] is bool:
            extra["action"] = "store_true"
        else:
            extra["action"] = "append" if kinds[f.name] is tuple else "store"
            extra["type"] = meta["parse"] or (str if kinds[f.name] is tuple else kinds[f.name])
            extra.update({k: meta[k] for k in ("choices", "metavar") if meta[k]})
        flags = meta["flags"] or (f"--{f.name.replace('_', '-')}",)
        if extra["action"] != "store_true" and not (meta["metavar"] or meta["choices"]):
            extra["metavar"] = flags[-1].lstrip("-").replace("-", "_").upper()  # what the user types, not the field
        p.add_argument(*flags, **extra)
    p.add_argument(
        "--config",
        default=None,
        metavar="FILE.toml",
        help="settings as `name = value` lines, by the field names (e.g. input_size = 224); flags given here "
        "override the file (default: none)",
    )


def config_from_args(cls: type, args: argparse.Namespace) -> Any:
    """The config dataclass ``cls`` from the flags given, then ``--config``'s file, then the defaults."""
    values = read_config_file(args.config, cls) if getattr(args, "config", None) else {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            values[f.name] = tuple(value) if isinstance(value, list) else value
    missing = [f.name for f in dataclasses.fields(cls) if is_required(f) and f.name not in values]
    if missing:
        flags = ", ".join(field_flag(cls, name) for name in missing)
        raise PreimageError(f"{flags} required: pass {flags} or set {', '.join(missing)} in --config")
    return cls(**values)


def add_resume_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint.pt (settings that differ from the checkpoint's are an error, "
        "except the run length, checkpoint interval and threads)",
    )
