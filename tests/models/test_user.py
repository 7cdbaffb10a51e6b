"""Bring your own network: --model NAME=MODULE:FACTORY on the CLI, with errors a user can act on."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from preimage.cli.main import main
from preimage.errors import PreimageError
from preimage.inverters.decoders import Decoder
from preimage.models import registry
from tests.conftest import make_tiny_dataset

NET = """
import torch
from torch import nn


def build():
    net = nn.Sequential()
    net.add_module("body", nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU()))
    net.add_module("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5)))
    net.input_size = 32
    torch.manual_seed(0)
    for p in net.parameters():
        nn.init.normal_(p, std=0.3)
    return net


def broken():
    raise RuntimeError("no weights here")


def not_a_module():
    return 42


def flat_only():
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4))
"""


@pytest.fixture
def user_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """A module of the user's in the current folder; its name is unique per test (Python caches imports)."""
    module = f"usernet_{request.node.name.split('[')[0][-40:]}"
    (tmp_path / f"{module}.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    before = set(registry.MODELS)
    yield module
    for name in set(registry.MODELS) - before:
        registry.MODELS.remove(name)
    sys.modules.pop(module, None)


def test_list_layers_features_and_invert_on_a_users_network(
    user_code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", f"tiny={user_code}:build"]
    assert main(["list", "layers", *model]) == 0
    out = capsys.readouterr().out
    assert "tiny (32x32 input)" in out and "body.2" in out and "16x8x8" in out and "prob" in out
    feats = tmp_path / "f.safetensors"
    assert main(["features", "samples:chelsea", *model, "--rep", "tiny:body.2", "--size", "32", "-o", str(feats)]) == 0
    assert load_file(str(feats))["features"].shape == (1, 16, 8, 8)
    capsys.readouterr()
    argv = ["invert", "samples:chelsea", *model, "--rep", "tiny:body.2", "--size", "32", "--method", "optimize"]
    assert main([*argv, "--steps", "3", "-o", str(tmp_path / "inv")]) == 0
    assert (tmp_path / "inv" / "chelsea.png").is_file()
    tex = ["textures", "samples:chelsea", *model, "--rep", "tiny:body.2", "--channels", "0-1", "--size", "32"]
    assert main([*tex, "--steps", "5", "-o", str(tmp_path / "tex")]) == 0
    assert (tmp_path / "tex" / "body.2_filter001.png").is_file()  # a network of its own: the sheet is its layer


def test_a_decoder_for_a_users_layer_refuses_other_weights(
    user_code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    make_tiny_dataset(data, n_per_class=8)
    model = ["--model", f"tiny2={user_code}:build"]
    run = tmp_path / "run"
    argv = ["train-decoder", *model, "--rep", "tiny2:body.2", "--data", str(data), "--epochs", "1"]
    assert main([*argv, "--width", "4", "--batch-size", "16", "--limit-val", "8", "-o", str(run)]) == 0
    weights = run / "decoder_tiny2_body.2.safetensors"
    config = json.loads(__import__("safetensors").safe_open(str(weights), "pt").metadata()["config"])
    assert config["rep"] == "tiny2:body.2" and len(config["encoder_sha256"]) == 64
    inv = ["invert", "samples:chelsea", *model, "--rep", "tiny2:body.2", "--method", "decoder"]
    assert main([*inv, "--decoder-weights", str(weights), "-o", str(tmp_path / "ok")]) == 0
    other = {k: v + 0.01 for k, v in registry.create_model("tiny2").state_dict().items()}
    save_file({k: v.contiguous() for k, v in other.items()}, str(tmp_path / "other.safetensors"))
    capsys.readouterr()
    bad = [*inv, "--weights", str(tmp_path / "other.safetensors"), "--decoder-weights", str(weights)]
    assert main([*bad, "-o", str(tmp_path / "bad")]) == 2
    assert "was trained on tiny2:body.2 weights" in capsys.readouterr().err
    # the explorer offers it beside the zoo's, and refuses a decoder of other weights before serving
    from preimage.explore import Explorer
    from preimage.training.common import export_safetensors

    explorer = Explorer(decoders=[weights])
    try:
        assert "tiny2:body.2" in [r["key"] for r in explorer.meta()["reps"]]
        png, _ = explorer.render(explorer.parse({"image": "sample:chelsea", "rep": "tiny2:body.2"}))
        assert png[:4] == b"\x89PNG"
    finally:
        explorer.close()
    dec = Decoder.from_file(weights)
    dec.encoder_sha256 = "0" * 64
    other_dec = export_safetensors(
        dec.state_dict(), tmp_path / "o.safetensors", metadata={"config": json.dumps(dec.config())}
    )
    with pytest.raises(PreimageError, match=r"was trained on tiny2:body\.2 weights"):
        Explorer(decoders=[other_dec])


@pytest.mark.parametrize(
    ("spec", "extra", "words"),
    [
        ("nope=no_such_module_here:build", [], "no module 'no_such_module_here'"),
        ("x={mod}:biuld", [], "did you mean 'build'"),
        ("x={mod}:broken", [], "broken() raised RuntimeError: no weights here"),
        ("x={mod}:not_a_module", [], "returned a int, not a torch nn.Module"),
        ("x={mod}", [], "expected NAME=MODULE:FACTORY"),
        ("x={mod}:flat_only", ["--model-size", "64"], "forward fails on a 1x3x64x64 input"),
        ("x={mod}:build", ["--rep", "x:body.9"], "(see: preimage list layers)"),
    ],
)
def test_mistakes_are_one_line_errors(
    user_code: str, spec: str, extra: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "features",
        "samples:chelsea",
        "--model",
        spec.format(mod=user_code),
        "--rep",
        "x:body.2",
        "-o",
        "f.safetensors",
    ]
    if "--rep" in extra:
        argv = [*argv[:-4], *extra, "-o", "f.safetensors"]
    else:
        argv += extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_weights_that_do_not_fit_name_the_keys(
    user_code: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_file({"body.0.weight": torch.zeros(2, 2)}, str(tmp_path / "w.safetensors"))
    argv = ["features", "samples:chelsea", "--model", f"y={user_code}:build", "--rep", "y:body.2"]
    assert main([*argv, "--weights", str(tmp_path / "w.safetensors"), "-o", "f.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "do not fit y" in err and "body.0.bias" in err and "body.0.weight (2, 2)" in err
