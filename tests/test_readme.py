"""README renders as its author meant: fences pair up, and its Python example runs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```(\S*)\s*$")


def _blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block; a fence must stand on its own line."""
    blocks, language, lines = [], None, []
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if "```" in line and not FENCE.match(line.strip()) and not line.strip().startswith("`"):
            raise AssertionError(f"README line {number}: a fence glued to text: {line[:60]!r}")
        match = FENCE.match(line.strip())
        if match is None:
            if language is not None:
                lines.append(line)
            continue
        if language is None:
            language, lines = match.group(1), []
        else:
            assert not match.group(1), f"README line {number}: opens a {match.group(1)} block inside another"
            blocks.append((language, "\n".join(lines)))
            language = None
    assert language is None, "README ends inside a code block: a fence is unpaired"
    return blocks


def test_readme_fences_pair_up_and_open_with_a_language() -> None:
    blocks = _blocks()
    assert blocks and all(lang for lang, _ in blocks), [code[:40] for lang, code in blocks if not lang]


def test_readme_python_example_runs() -> None:
    (python,) = [code for lang, code in _blocks() if lang == "python"]
    namespace: dict[str, object] = {}
    exec(compile(python.replace("steps=200", "steps=2"), "README.md", "exec"), namespace)
    assert tuple(namespace["x_hat"].shape) == (4, 3, 64, 64)  # type: ignore[attr-defined]
    assert set(namespace["feats"]) == {"conv3", "fc7", "prob"}  # type: ignore[call-overload]
