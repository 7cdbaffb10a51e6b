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


def test_preimages_reading_names_what_varies_most_first() -> None:
    from preimage.report.page import READERS

    row = {"rep": "alexnet64:fc8", "set": "samples", "mean_abs_difference": 0.1, "share_colour": 0.5,
           "share_layout": 0.2, "share_detail": 0.3, "feature_error_samples": 0.2, "feature_error_mean": 1.0,
           "error_samples": 0.8, "error_mean": 0.6}  # fmt: skip
    text = READERS.get("preimages")({"rows": [row], "columns": "photo | MSE mean"})
    assert "(colour 50%, detail 30%, layout 20%)" in text
    assert "feature error 0.200 against the MSE mean's 1.000" in text and "sharp decoder" not in text


def test_detail_budget_reading_puts_the_sharp_decoder_beside_the_budget() -> None:
    from preimage.report.page import READERS

    row = {"rep": "alexnet64:conv5", "set": "tiny-imagenet val", "edge_ratio_mse": 0.136, "error_mse": 0.437,
           "edge_ratio_at_budget": 0.63, "edge_ratio_bound_at_budget": 0.74, "edge_ratio_full_detail": 0.957,
           "error_full_detail": 0.603, "edge_ratio_sharp": 0.58, "error_sharp": 0.511}  # fmt: skip
    text = READERS.get("detail-budget")({"rows": [row, {**row, "rep": "x"}], "error_budget": 0.08})
    assert "budget of 0.080 above" in text
    assert "0.630 at the budget (bound 0.740)" in text and "the sharp decoder 0.580 at error 0.511" in text
    no_sharp = {k: v for k, v in row.items() if not k.endswith("_sharp")}
    assert "sharp decoder" not in READERS.get("detail-budget")({"rows": [no_sharp], "error_budget": 0.08})
