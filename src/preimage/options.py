"""Settings that describe themselves: a run's config dataclass is the single source of its options.

Each field is declared once with :func:`option` (default, help, value check, flag names); the command line
generates one flag per field from it (:func:`preimage.cli.args.add_config_arguments`) and a TOML file
(``--config run.toml``) sets the same fields by name (:func:`read_config_file`). Adding an option to a run
is one line in its dataclass.

The value checks take the text a user typed and return the value, or raise
:class:`argparse.ArgumentTypeError` with one line that says the allowed range.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from preimage.errors import PreimageError, unknown_name

MAX_SIZE = 4096  # pixels a side: a 4096^2 RGB float batch of one is 200 MB, well within a laptop
MIN_SIZE = 16  # pixels a side: two 8-px HOG cells, one 16-px LBP cell
MAX_THREADS = 1024


def int_range(lo: int, hi: int | None = None, unit: str = "") -> Callable[[str], int]:
    """An ``int`` parser accepting ``lo <= value <= hi`` (``hi=None``: no upper bound)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}{suffix}" if hi is not None else f"at least {lo}{suffix}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: must be {bound}")
        return value

    parse.__name__ = "int"  # argparse names the type in its messages
    return parse


def float_range(
    lo: float, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> Callable[[str], float]:
    """A finite ``float`` parser for ``[lo, hi]`` (either end open when asked)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        too_low = value <= lo if lo_open else value < lo
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if value != value or too_low or too_high:  # NaN fails every comparison
            left, right = "(" if lo_open else "[", ")" if hi_open else "]"
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be in {left}{lo}, {hi or 'inf'}{right}")
        return value

    parse.__name__ = "float"
    return parse


size = int_range(MIN_SIZE, MAX_SIZE, "pixels")
positive = int_range(1)
non_negative = int_range(0)
threads = int_range(1, MAX_THREADS)
# torch seeds its generators with 64-bit integers; one range for every command
seed = int_range(0, 2**63 - 1)
probability = float_range(0.0, 1.0)
positive_float = float_range(0.0, None, lo_open=True)
non_negative_float = float_range(0.0)
decay = float_range(0.0, 1.0, hi_open=True)
fraction = float_range(0.0, 1.0, lo_open=True, hi_open=True)


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    parse: Callable[[str], Any] | None = None,
    choices: Sequence[str] | None = None,
    flags: Sequence[str] = (),
    metavar: str | None = None,
    cli: bool = True,
) -> Any:
    """A config field: its default (none: required), what it means, how its text is checked (``parse``, or
    one of ``choices``), its flags (default ``--field-name``), and whether the command line offers it."""
    meta = {"help": help, "parse": parse, "choices": choices, "flags": tuple(flags), "metavar": metavar, "cli": cli}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def option_metadata(cls: type, name: str) -> dict[str, Any]:
    """The :func:`option` of field ``name``: a subclass that only changes a default inherits its base's."""
    for klass in cls.__mro__:
        for f in dataclasses.fields(klass) if dataclasses.is_dataclass(klass) else ():
            if f.name == name and f.metadata.get("help"):
                return dict(f.metadata)
    return {"help": "", "parse": None, "choices": None, "flags": (), "metavar": None, "cli": False}


def field_flag(cls: type, name: str) -> str:
    """The flag a user types for field ``name`` (its first)."""
    return (option_metadata(cls, name)["flags"] or (f"--{name.replace('_', '-')}",))[0]


def is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def field_types(cls: type) -> dict[str, Any]:
    """Each field's value type: ``int | None`` -> ``int``, ``tuple[str, ...]`` -> ``tuple``."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        origin = typing.get_origin(hint)
        out[name] = tuple if origin is tuple else args[0] if origin is not None and args else hint
    return out


def check_value(cls: type, name: str, value: Any) -> Any:
    """A TOML value for field ``name`` checked as the command line checks its text."""
    meta, kind = option_metadata(cls, name), field_types(cls)[name]
    where = f"{name} = {value!r}"
    if kind is bool or kind is tuple:
        ok = isinstance(value, bool) if kind is bool else isinstance(value, list)
        if not ok:
            raise PreimageError(f"config {where}: expected {'true or false' if kind is bool else 'a list'}")
        return value if kind is bool else tuple(value)
    if isinstance(value, (bool, list, dict)):
        raise PreimageError(f"config {where}: expected a {kind.__name__}")
    if meta["choices"] and value not in meta["choices"]:
        raise PreimageError(f"config {where}: must be one of {', '.join(meta['choices'])}")
    try:
        return (meta["parse"] or kind)(str(value))
    except (argparse.ArgumentTypeError, ValueError) as err:
        raise PreimageError(f"config {where}: {err}") from None


def read_config_file(path: str | Path, cls: type) -> dict[str, Any]:
    """The settings of a TOML file (``key = value`` per field of ``cls``), each checked."""
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PreimageError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PreimageError(f"{path} is not valid TOML ({err}) — write one `name = value` line per setting") from None
    names = [f.name for f in dataclasses.fields(cls)]
    for key in table:
        if key not in names:
            raise PreimageError(f"{path}: {unknown_name('setting', key, names)}")
    return {key: check_value(cls, key, value) for key, value in table.items()}
