"""Every experiment runs end to end in --quick mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preimage.experiments import Context, list_experiments, run_experiment


@pytest.mark.parametrize("name", list_experiments())
def test_experiment_quick(name: str, tmp_path: Path) -> None:
    summary = run_experiment(name, Context(tmp_path, quick=True))
    written = json.loads((tmp_path / name / "summary.json").read_text())
    assert written["experiment"] == name == summary["experiment"]
    assert any(p.suffix == ".png" for p in (tmp_path / name).iterdir())
