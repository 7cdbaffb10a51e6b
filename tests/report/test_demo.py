from __future__ import annotations

from pathlib import Path

from preimage.report.demo import run_demo


def test_demo_writes_a_self_contained_page(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, images="samples:astronaut,chelsea", steps=3)
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 5  # figures are inlined
    assert "alexnet64, layer by layer" in page
    assert set(summary["layer_errors_optimize"]) == {
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "fc6",
        "fc7",
        "fc8",
    }
    assert (tmp_path / "hog" / "chelsea.png").is_file()
