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


def test_optimisation_results_are_cached_and_reused(tmp_path: Path) -> None:
    first = run_experiment("shallow-table", Context(tmp_path, quick=True))
    cached = sorted((tmp_path / ".cache").glob("optimize_*.pt"))
    assert cached  # HOG optimisation was stored ...
    stamp = [p.stat().st_mtime_ns for p in cached]
    second = run_experiment("shallow-table", Context(tmp_path, quick=True))
    assert [p.stat().st_mtime_ns for p in cached] == stamp  # ... and read back, not recomputed
    rows = [(r["rep"], r["method"], r.get("normalized_error")) for r in first["rows"]]
    assert rows == [(r["rep"], r["method"], r.get("normalized_error")) for r in second["rows"]]
