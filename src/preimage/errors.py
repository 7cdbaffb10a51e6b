"""One-line, actionable errors.

Every error a user can cause (a bad file, a wrong shape, an unknown name) is a
:class:`PreimageError` whose message names the problem *and* the fix, on one
line. The CLI prints it and exits with code 2, without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PreimageError(ValueError):
    """A user-facing error; ``str(err)`` is a single line that says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


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
