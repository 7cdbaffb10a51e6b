from __future__ import annotations

import math
from pathlib import Path

from preimage.inverters.decoders import zoo_path
from preimage.report.demo import LAYERS, run_demo


def test_demo_writes_a_self_contained_page(tmp_path: Path) -> None:
    summary = run_demo(tmp_path, images="samples:astronaut,chelsea", steps=3)
    page = (tmp_path / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 5  # figures are inlined
    assert "alexnet64, layer by layer" in page
    assert set(summary["layer_errors_optimize"]) == set(LAYERS) >= {"conv1", "conv5", "fc8", "prob"}
    # every shipped inverter of HOG is shown, and every shipped layer decoder has a point on the curve
    assert {"optimize", "HOGgles (paired dictionary)", "learned decoder"} <= set(summary["hog_errors"])
    for i, layer in enumerate(LAYERS):
        shipped = zoo_path(f"alexnet64:{layer}").is_file()
        assert math.isfinite(summary["layer_errors"].get("decoder", [math.nan] * len(LAYERS))[i]) == shipped
    assert {"hog", "lbp"} <= set(summary["decoders_shipped"])
    assert len(summary["decoders_shipped"]) == len(set(summary["decoders_shipped"]))  # no variant twice
    assert (tmp_path / "hog" / "chelsea.png").is_file()
