from __future__ import annotations

import math
from pathlib import Path

from preimage import zoo
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
        shipped = zoo.lookup("decoder", f"alexnet64:{layer}") is not None
        assert math.isfinite(summary["layer_errors"].get("decoder", [math.nan] * len(LAYERS))[i]) == shipped
    assert {"hog", "lbp"} <= set(summary["decoders_shipped"])
    assert len(summary["decoders_shipped"]) == len(set(summary["decoders_shipped"]))  # no variant twice
    assert (tmp_path / "hog" / "chelsea.png").is_file()


def test_demo_shows_a_full_resolution_photo_inverted_from_its_hog(tmp_path: Path) -> None:
    # the paper's protocol is part of the demo: the HOG of the 224-px photo (28x28 cells) against the
    # HOG of the 64-px thumbnail (8x8 cells)
    from preimage.report.demo import FULL_RESOLUTION, full_resolution_section

    summary: dict[str, object] = {"images": ["astronaut", "coffee", "chelsea"]}
    section = full_resolution_section(tmp_path, "samples:astronaut,coffee,chelsea", summary)
    if zoo.lookup("decoder", "hog", FULL_RESOLUTION) is None:
        assert section is None
        return
    assert section is not None and (tmp_path / "hog_full_resolution.png").is_file()
    errors = summary["hog_full_resolution"]
    assert isinstance(errors, dict)
    assert errors["code_shapes"] == {"224->64": [31, 28, 28], "64->64": [31, 8, 8]}
    # what the finer grid keeps: edges. The 224-px reconstructions carry much more of the photos' edge
    # energy than the 64-px protocol's (its error is measured on Imagenette val, in the model card)
    detail = errors["detail"]
    assert detail["224->64"] > 1.3 * detail["64->64"]
    assert 0.3 < detail["224->64"] < 1.5  # edges, not noise
    assert errors["224->64"] < 0.7  # well below a flat gray guess
    assert (tmp_path / "hog224" / "coffee.png").is_file()
