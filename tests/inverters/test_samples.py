"""Several pre-images per code: each matches the code better than the mean decoder's image, and they differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from preimage.cli.main import main
from preimage.data import load_image
from preimage.errors import PreimageError
from preimage.inverters import create_inverter
from preimage.inverters.samples import sample_preimages
from preimage.representations import create_representation


def test_invert_samples_writes_k_preimages_that_match_the_code_and_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["invert", "samples:chelsea", "samples:coffee", "--rep", "hog", "--method", "decoder"]
    assert main([*argv, "--samples", "3", "--sample-steps", "40", "-o", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        ["chelsea.png", "coffee.png", *(f"{n}_sample{k}.png" for n in ("chelsea", "coffee") for k in range(3))]
    )
    errors = result["feature_error"]
    for i in range(2):  # each sample's code is closer to the input's than the one-pass mean's
        assert all(errors[f"sample{k}"][i] < errors["mean"][i] for k in range(3))
    a, b = load_image(tmp_path / "chelsea_sample0.png"), load_image(tmp_path / "chelsea_sample1.png")
    assert float((a - b).abs().mean()) >= 0.01  # visibly different pre-images of one code


def test_samples_are_seeded_and_need_gradients() -> None:
    hog = create_representation("hog")
    inverter = create_inverter("decoder", hog)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    first, _ = sample_preimages(hog, inverter, x, 1, seed=3, steps=5)
    again, _ = sample_preimages(hog, inverter, x, 1, seed=3, steps=5)
    assert torch.equal(first, again)
    lbp = create_representation("lbp")
    with pytest.raises(PreimageError, match="not differentiable"):
        sample_preimages(lbp, create_inverter("decoder", lbp), x, 1)


def test_sample_noise_reaches_colour_and_layout_not_only_pixels() -> None:
    # pixel noise of unit variance puts ~1/(H*W) of its energy in each image's mean colour; the samples' noise
    # gives every scale an equal share, so the per-image channel means must vary (a 1/6 share: std ~0.4)
    from preimage.inverters.samples import multiscale_noise

    gen = torch.Generator().manual_seed(0)
    noise = multiscale_noise((64, 3, 32, 32), gen)
    assert float(noise.std()) == pytest.approx(1.0, abs=0.1)
    assert float(noise.mean((2, 3)).std()) > 0.25
    assert float(torch.randn(64, 3, 32, 32, generator=gen).mean((2, 3)).std()) < 0.05
    # and fine detail is still there: neighbouring pixels are not all alike
    assert float((noise[..., 1:] - noise[..., :-1]).abs().mean()) > 0.2


def test_invert_refuses_samples_of_lbp_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["invert", "samples:chelsea", "--rep", "lbp", "--samples", "2", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "lbp is not differentiable" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # not even the one-pass reconstruction
