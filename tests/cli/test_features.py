from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from preimage.cli.main import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "preimage.cli", *args], capture_output=True, text=True)


def test_features_writes_safetensors(tmp_path: Path) -> None:
    img = tmp_path / "dog.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 100, 3), dtype=np.uint8)).save(img)
    gray16 = tmp_path / "deep.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(gray16)
    out = tmp_path / "f.safetensors"
    assert main(["features", str(img), str(gray16), "--rep", "hog", "-o", str(out)]) == 0
    tensors = load_file(str(out))
    assert tensors["features"].shape == (2, 31, 8, 8)
    assert tensors["images"].shape == (2, 3, 64, 64)


@pytest.mark.parametrize("rep, shape", [("lbp", (58, 4, 4)), ("sift", (133, 16, 16)), ("hog-dt", (36, 7, 7))])
def test_features_on_samples(tmp_path: Path, rep: str, shape: tuple[int, ...]) -> None:
    out = tmp_path / "f.safetensors"
    assert main(["features", "samples:astronaut", "--rep", rep, "-o", str(out)]) == 0
    assert tuple(load_file(str(out))["features"].shape[1:]) == shape


def test_unknown_rep_suggests_nearest(tmp_path: Path) -> None:
    res = _run("features", "samples:astronaut", "--rep", "hgo", "-o", str(tmp_path / "f.safetensors"))
    assert res.returncode == 2
    assert "did you mean 'hog'" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_corrupt_file_exit_2_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    res = _run("features", str(bad), "--rep", "lbp", "-o", str(tmp_path / "f.safetensors"))
    assert res.returncode == 2
    assert "broken.jpg" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_wrong_output_suffix(tmp_path: Path) -> None:
    res = _run("features", "samples:astronaut", "--rep", "lbp", "-o", str(tmp_path / "f.npy"))
    assert res.returncode == 2 and ".safetensors" in res.stderr


def test_list_reps_and_unknown_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "reps"]) == 0
    listed = capsys.readouterr().out
    for name in ["hog", "hog-dt", "lbp", "sift", "MODEL:LAYER"]:
        assert name in listed
    assert main(["list", "modles"]) == 2
    assert "did you mean 'models'" in capsys.readouterr().err
