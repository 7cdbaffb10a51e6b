"""``preimage`` command line: sub-commands registered by decorator.

Every user error (bad file, unknown name, wrong shape) prints one line,
``preimage: error: ...``, and exits with code 2 — no traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from preimage.cli import commands as _commands  # noqa: F401  (importing them registers the sub-commands)
from preimage.cli.args import HelpFormatter, add_common_arguments
from preimage.cli.common import COMMANDS
from preimage.errors import PreimageError, RunInterrupted


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="preimage",
        description="What does an image representation keep? Invert HOG, SIFT, LBP and CNN features back into "
        "images. Every option of a sub-command is in: preimage COMMAND --help",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS.in_order():
        p = sub.add_parser(name, help=COMMANDS.help(name), description=COMMANDS.help(name))
        COMMANDS.extra(name)["configure"](p)
        add_common_arguments(p)
        p.set_defaults(_run=COMMANDS.get(name), _flags=parameter_flags(p))
    return parser


# library parameters a command takes under another name: the representation's input side is --size
PARAMETER_ALIASES = {"input_size": "size"}


def parameter_flags(p: argparse.ArgumentParser) -> dict[str, str]:
    """Each parameter a command's flags set -> the flag (its first long spelling), for error messages."""
    flags = {
        a.dest: next((s for s in a.option_strings if s.startswith("--")), a.option_strings[0])
        for a in p._actions
        if a.option_strings and a.dest != "help"
    }
    for name, dest in PARAMETER_ALIASES.items():
        if name not in flags and dest in flags:
            flags[name] = flags[dest]
    return flags


def _one_line_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, line: str | None = None
) -> str:
    return f"preimage: warning: {' '.join(str(message).split())}\n"


def configure_runtime(args: argparse.Namespace) -> None:
    """Apply the common options: torch threads and the largest image Pillow may decode."""
    from preimage.data.images import set_max_pixels
    from preimage.runtime import set_threads

    set_threads(args.threads)
    set_max_pixels(args.max_pixels)
    register_models(args)


def register_models(args: argparse.Namespace) -> None:
    """Register the ``--model NAME=MODULE:FACTORY`` networks; a command's own ``--model`` may name one too."""
    from preimage.models.user import register_user_model

    specs = list(getattr(args, "user_models", []) or [])
    own = getattr(args, "model", None)
    if isinstance(own, str) and "=" in own:
        specs.append(own)
    for spec in specs:
        name = register_user_model(spec, args.model_size, args.model_mean, args.model_std)
        if spec == own:
            args.model = name
    warnings.formatwarning = _one_line_warning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        configure_runtime(args)
        code = args._run(args)
    except PreimageError as err:
        print(f"preimage: error: {err.for_command_line(args._flags)}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system said no (disk full, permission, read-only): one line, not a traceback
        where = f": {err.filename}" if err.filename else ""
        print(f"preimage: error: {err.strerror or err.__class__.__name__}{where}", file=sys.stderr)
        return 2
    except RunInterrupted as stop:
        print(f"preimage: {stop}", file=sys.stderr)
        return stop.code
    except KeyboardInterrupt:
        print("preimage: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
