"""``preimage report``: every experiment folder becomes a section with its figures inlined."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from preimage.experiments import Context, run_experiment


def test_report_collects_experiments(tmp_path: Path) -> None:
    for name in ("brightness", "gram-explain"):
        run_experiment(name, Context(tmp_path, quick=True))
    done = subprocess.run(
        [sys.executable, "-m", "preimage.cli", "report", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text()
    assert "<h2>brightness (quick settings)</h2>" in page and "<h2>gram-explain (quick settings)</h2>" in page
    assert page.count("data:image/png;base64,") >= 2
    assert "Scaling an image darker" in page or "no shipped decoder" in page


def test_report_of_an_empty_folder_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "preimage.cli", "report", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "no experiment results" in done.stderr and "Traceback" not in done.stderr
