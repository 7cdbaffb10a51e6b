"""One-line, actionable errors.

Every error a user can cause (a bad file, a wrong shape, an unknown name) is a
:class:`PreimageError` whose message names the problem *and* the fix, on one
line. The CLI prints it and exits with code 2, without a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

# a parameter named in a message, as Python spells it: `input_size=64`, `overwrite`
PARAMETER = re.compile(r"`(\w+)(?:=([^`]*))?`")


class PreimageError(ValueError):
    """A user-facing error; ``str(err)`` is a single line that says what to do.

    A fix that is a setting names the Python parameter in backticks (``pass `input_size=64```), never a
    command-line flag: the command line rewrites it into its own flag (:meth:`for_command_line`).
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))

    def renamed(self, names: Mapping[str, str]) -> PreimageError:
        """The same error with parameters renamed (``weights`` -> ``decoder_weights``), for a caller that
        passes them to the library under other names."""

        def rename(m: re.Match[str]) -> str:
            value = "" if m.group(2) is None else f"={m.group(2)}"
            return f"`{names.get(m.group(1), m.group(1))}{value}`"

        return type(self)(PARAMETER.sub(rename, str(self)))

    def for_command_line(self, flags: Mapping[str, str]) -> str:
        """The message with each parameter written as the flag that sets it (``flags``: parameter -> flag),
        ``--size 64`` for `input_size=64`; one no flag sets stays as ``name=value``."""

        def flag(m: re.Match[str]) -> str:
            name, value = m.group(1), m.group(2)
            if name not in flags:
                return name if value is None else f"{name}={value}"
            return flags[name] if value in (None, "True") else f"{flags[name]} {value}"

        return PARAMETER.sub(flag, str(self))


class ImageTooLarge(PreimageError):
    """An image with more pixels than the limit (``--max-pixels``): readable, but refused before decoding."""


def nearest(name: str, choices: Iterable[str]) -> str | None:
    """The closest valid spelling of ``name`` among ``choices``, or ``None``."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if name.lower() in lowered:
        return lowered[name.lower()]
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.4)
    return lowered[hits[0]] if hits else None


def unknown_name(kind: str, name: str, choices: Iterable[str], limit: int = 40) -> PreimageError:
    """Build the error for an unknown registry key, suggesting the nearest one."""
    choices = sorted(choices)
    guess = nearest(name, choices)
    shown = ", ".join(choices[:limit]) + (", ..." if len(choices) > limit else "")
    hint = f"did you mean {guess!r}? " if guess else ""
    return PreimageError(f"unknown {kind} {name!r}: {hint}valid {kind}s are: {shown}")


class RunInterrupted(Exception):
    """A training run stopped by SIGINT/SIGTERM after writing its checkpoint; ``code`` is the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code
