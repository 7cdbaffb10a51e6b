"""``--help`` of the program and of every sub-command works, and every option says what it is and its default."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import preimage
from preimage.cli.common import COMMANDS
from preimage.cli.main import build_parser, main

SRC = str(Path(preimage.__file__).resolve().parents[1])


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], []])
def test_the_program_help_runs_in_a_fresh_process(argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)}
    r = subprocess.run([sys.executable, "-m", "preimage.cli", *argv], env=env, capture_output=True, text=True)
    assert "Traceback" not in r.stderr
    assert r.returncode == (0 if argv else 2)  # bare `preimage` prints the help and says it needs a command
    assert "evaluate" in r.stdout and "95% CI" in r.stdout  # the literal % used to crash the formatter
    assert all(name in r.stdout for name in COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS) or ["invert"])
def test_every_sub_command_help_exits_0(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: preimage {name}")
    for flag in ("--overwrite", "--threads", "--strict", "--max-pixels"):
        assert flag in out


def test_every_option_has_help_and_shows_its_default() -> None:
    missing, no_default = [], []
    for name, sub in _subparsers().items():
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(label)
                continue
            shown = formatter._expand_help(action)
            has_default = action.default not in (None, False, argparse.SUPPRESS) and action.option_strings
            if has_default and "default" not in shown.lower():
                no_default.append(label)
    assert not missing, f"options without help: {missing}"
    assert not no_default, f"options whose help hides the default: {no_default}"


def test_units_and_the_amp_default_are_said() -> None:
    subs = _subparsers()
    train = " ".join(subs["train-decoder"].format_help().split())  # undo the line wrapping
    assert "seconds between mid-epoch checkpoints" in train
    assert "default auto" in train and "AVX512-BF16" in train
    assert "side in pixels" in subs["invert"].format_help()
    assert "copy of the input images" in " ".join(subs["features"].format_help().split())


def test_parse_time_validation_says_the_bound(capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        ("invert", "x", "--rep", "hog", "-o", "o", "--size", "5000"): "between 16 and 4096 pixels",
        ("invert", "x", "--rep", "hog", "-o", "o", "--threads", "0"): "--threads: 0 is out of range",
        ("train-decoder", "--rep", "hog", "--data", "d", "-o", "o", "--ema", "1.0"): "--ema: 1.0 is out of range",
        ("train-decoder", "--rep", "hog", "--data", "d", "-o", "o", "--lr", "nan"): "--lr: nan is out of range",
        ("evaluate", "--rep", "hog", "--data", "d", "--batch", "x"): "'x' is not a whole number",
    }
    for argv, expected in cases.items():
        with pytest.raises(SystemExit) as exit_:
            main(list(argv))
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and expected in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_list_models_names_the_flag() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)}
    r = subprocess.run(
        [sys.executable, "-m", "preimage.cli", "list", "models"], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0 and "weights=PATH" not in r.stdout
