"""``preimage`` command line: sub-commands registered by decorator.

Every user error (bad file, unknown name, wrong shape) prints one line,
``preimage: error: ...``, and exits with code 2 — no traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from preimage.cli import args as types
from preimage.cli.args import HelpFormatter, add_common_arguments
from preimage.errors import PreimageError, RunInterrupted


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int | None]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace], int | None]], Callable[[argparse.Namespace], int | None]]:
    """Register ``run(args)`` as ``preimage NAME``; ``configure`` adds its arguments."""

    def decorator(
        run: Callable[[argparse.Namespace], int | None],
    ) -> Callable[[argparse.Namespace], int | None]:
        COMMANDS[name] = Command(name, help, configure, run)
        return run

    return decorator


def add_decoder_arguments(p: argparse.ArgumentParser) -> None:
    """``--flip-average``, ``--decoder-weights`` and ``--decoder-variant``, shared by ``invert`` and ``evaluate``."""
    p.add_argument(
        "--flip-average", action="store_true", help="decoder: average with the mirrored code's decoding (HOG, LBP)"
    )
    p.add_argument(
        "--decoder-weights",
        default=None,
        metavar="FILE",
        help="decoder: these weights (a train-decoder export) instead of the shipped decoder",
    )
    p.add_argument(
        "--decoder-variant",
        default=None,
        metavar="NAME",
        help="decoder: another shipped decoder for --rep, e.g. fast (hog: a cheaper sub-pixel student)",
    )


def decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The decoder options the user set (``flip_average``, ``weights``, ``variant``), for ``create_inverter``:
    passed only when set, so that a method that does not take them refuses them by name."""
    given = {"flip_average": args.flip_average, "weights": args.decoder_weights, "variant": args.decoder_variant}
    return {k: v for k, v in given.items() if v}


def build_representation(spec: str, weights: str = "default") -> Any:
    """The representation ``--rep`` names; ``--weights`` for a ``MODEL:LAYER`` tap."""
    from preimage.representations import create_representation

    return create_representation(spec, **({"weights": weights} if ":" in spec else {}))


def add_size_arguments(p: argparse.ArgumentParser, output_help: str) -> None:
    """``--size`` (what the representation sees) and ``--output-size`` (the reconstruction), one definition."""
    p.add_argument(
        "--size",
        type=types.size,
        default=64,
        help="side in pixels of the square image the representation sees: photos are centre-cropped to a "
        "square and resized (smaller ones upsampled, with a note); 64 (default) or 224 for the paper's protocol",
    )
    p.add_argument("--output-size", type=types.size, default=None, metavar="M", help=output_help)


def note(message: str | None) -> None:
    """A one-line remark on stderr (not an error): what was done to the input and why."""
    if message:
        print(f"preimage: {message}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from preimage.cli import commands as _commands  # noqa: F401  (registers the sub-commands)

    parser = _Parser(
        prog="preimage",
        description="What does an image representation keep? Invert HOG, SIFT, LBP and CNN features back into "
        "images. Every option of a sub-command is in: preimage COMMAND --help",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        add_common_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


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
        print(f"preimage: error: {err}", file=sys.stderr)
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
