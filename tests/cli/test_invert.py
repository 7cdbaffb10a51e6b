from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from preimage.cli.main import main


def test_invert_optimize_writes_one_png_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("first", "second"):
        arr = np.random.default_rng(len(name)).integers(0, 256, (70, 90, 3), dtype=np.uint8)
        Image.fromarray(arr).save(src / f"{name}.png")
    out = tmp_path / "out"
    code = main(
        [
            "invert",
            str(src / "first.png"),
            str(src / "second.png"),
            "--rep",
            "hog",
            "--steps",
            "5",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["first.png", "second.png"]
    assert Image.open(out / "first.png").size == (64, 64)


def test_invert_hoggles_and_evaluate_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["invert", "samples:coffee", "samples:rocket", "--rep", "hog", "--method", "hoggles", "-o", str(tmp_path)])
        == 0
    )
    rgb = np.asarray(Image.open(tmp_path / "coffee.png"))
    assert rgb.shape == (64, 64, 3) and (rgb[..., 0] == rgb[..., 1]).all()  # HOGgles paints gray
    capsys.readouterr()
    assert main(["evaluate", "--rep", "hog", "--method", "hoggles", "--data", "samples:all", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 6 and 0.2 < result["normalized_error"] < 1.0


@pytest.mark.parametrize(
    "extra, method",
    [
        (["--rep", "lbp"], "decoder"),  # not differentiable: only a decoder can invert it
        (["--rep", "sift", "--size", "224"], "decoder"),  # the paper's protocol ships decoders too
        (["--rep", "hog", "--steps", "2"], "optimize"),  # an optimisation option asks for optimisation
        (["--rep", "vgg19_64:relu2_1", "--steps", "2"], "optimize"),
        (["--rep", "vgg19_64:relu2_1"], "optimize"),  # no decoder ships for this layer
    ],
)
def test_invert_by_default_decodes_where_a_decoder_ships(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], method: str
) -> None:
    assert main(["invert", "samples:coffee", *extra, "-o", str(tmp_path / "auto")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["method"] == method
    if method == "decoder":  # the very decoder --method decoder runs
        assert main(["invert", "samples:coffee", *extra, "--method", "decoder", "-o", str(tmp_path / "dec")]) == 0
        auto, explicit = (np.asarray(Image.open(tmp_path / d / "coffee.png")) for d in ("auto", "dec"))
        assert np.array_equal(auto, explicit)


def test_invert_cnn_layer(tmp_path: Path) -> None:
    assert main(["invert", "samples:coffee", "--rep", "alexnet64:conv2", "--steps", "3", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "coffee.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["invert", "samples:chelsea", "--rep", "lbp", "--method", "optimize", "-o", "X"], "not differentiable"),
        (
            ["invert", "samples:chelsea", "--rep", "hog", "--method", "optimise", "-o", "X"],
            "did you mean 'optimize'",
        ),
        (["invert", "samples:chelsea", "--rep", "alexnet64:conv9", "-o", "X"], "did you mean"),
        (
            ["textures", "samples:chelsea", "--rep", "alexnet64:conv1", "--channels", "60-70", "-o", "X"],
            "out of range",
        ),
        (["textures", "samples:chelsea", "--channels", "a-b", "-o", "X"], "bad --channels"),
        (["restyle", "samples:chelsea", "--mode", "purposeful", "-o", "X"], "needs --style"),
        (["experiment", "gram-explian", "-o", "X"], "did you mean 'gram-explain'"),
        (["invert", "samples:chelsea", "--rep", "lbp", "--method", "hoggles", "-o", "X"], "HOG only"),
        (["report", "X"], "no experiment results"),
        (["invert", "chelsea", "--rep", "hog", "-o", "X"], "write samples:chelsea"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [a if a != "X" else str(tmp_path / "o") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_textures_command_writes_atlas_sheet_and_csv(tmp_path: Path) -> None:
    argv = [
        "textures",
        "samples:chelsea",
        "--rep",
        "alexnet64:conv1",
        "--channels",
        "0-3",
        "--layers",
        "conv1,conv3",
        "--per-layer",
        "2",
        "--steps",
        "5",
        "-o",
        str(tmp_path),
    ]
    assert main(argv) == 0
    for name in ("atlas_conv1.png", "textures_by_layer.png", "textures_by_layer.csv", "conv1_filter003.png"):
        assert (tmp_path / name).is_file(), name
    assert len((tmp_path / "textures_by_layer.csv").read_text().splitlines()) == 3


def test_restyle_random_writes_n_styles(tmp_path: Path) -> None:
    argv = ["restyle", "samples:chelsea", "--mode", "random", "--n", "3", "--steps", "3", "-o", str(tmp_path)]
    assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.glob("random_seed*.png")) == [f"random_seed{i}.png" for i in range(3)]
    assert (tmp_path / "restyle_sheet.png").is_file()


def test_experiment_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "list"]) == 0
    assert "gram-explain" in capsys.readouterr().out


def test_gram_explain_quick_writes_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "gram-explain", "--quick", "-o", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "gram-explain" / "summary.json").read_text())
    dist = summary["mean_gram_distance"]
    assert dist["style_itself"] == 0.0 and dist["noise"] > dist["gram"]
    assert (tmp_path / "gram-explain" / "gram_distance.csv").is_file()


def test_flip_averaged_decoder_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--rep", "hog", "--method", "decoder", "--data", "samples:all", "--json"]
    assert main(["evaluate", *argv]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["evaluate", *argv, "--flip-average"]) == 0
    averaged = json.loads(capsys.readouterr().out)
    assert averaged["flip_average"] is True and "flip_average" not in plain
    assert averaged["normalized_error"] != plain["normalized_error"]
    assert (
        main(["invert", "samples:coffee", "--rep", "hog", "--method", "decoder", "--flip-average", "-o", str(tmp_path)])
        == 0
    )
    assert Image.open(tmp_path / "coffee.png").size == (64, 64)
    capsys.readouterr()
    assert main(["invert", "samples:coffee", "--rep", "sift", "--method", "decoder", "--flip-average", "-o", "X"]) == 2
    err = capsys.readouterr().err
    assert "mirror its code" in err and "Traceback" not in err
    for command in (["invert", "samples:coffee", "-o", "X"], ["evaluate", "--data", "samples:all"]):
        assert main([*command, "--rep", "hog", "--method", "optimize", "--flip-average"]) == 2
        err = capsys.readouterr().err
        assert "--flip-average averages decoder outputs" in err and len(err.strip().splitlines()) == 1


def _constant_decoder(path: Path, rep: str, code_shape: tuple[int, ...], value: float) -> Path:
    """A decoder file whose output is ``value`` everywhere: zero head weights, the head's bias ``value``."""
    import torch

    from preimage.inverters.decoders import Decoder, DecoderArch
    from preimage.training.common import export_safetensors

    dec = Decoder(DecoderArch(rep, code_shape, 64, width=4))
    torch.nn.init.zeros_(dec.net.head.weight)
    torch.nn.init.constant_(dec.net.head.bias, value)
    return export_safetensors(dec.state_dict(), path, fp16=False, metadata={"config": json.dumps(dec.config())})


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _copy(src: Path, dst: Path) -> Path:
    return _write(dst, src.read_bytes())


def test_decoder_weights_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from preimage.data import iter_images

    weights = _constant_decoder(tmp_path / "gray.safetensors", "hog", (31, 8, 8), 0.375)
    argv = ["--rep", "hog", "--method", "decoder", "--data", "samples:all", "--json", "--decoder-weights"]
    assert main(["evaluate", *argv, str(weights)]) == 0
    result = json.loads(capsys.readouterr().out)
    # by hand: a constant 0.375 image's (exact in bf16) distance to each photo over the mean distance
    # between distinct photos
    x = np.stack([it.image.numpy() for it in iter_images(["samples:all"], size=64, fit="center")]).reshape(6, -1)
    pairs = [np.linalg.norm(x[i] - x[j]) for i in range(6) for j in range(6) if i != j]
    expected = np.mean(np.linalg.norm(x - 0.375, axis=1)) / np.mean(pairs)
    assert result["decoder_weights"] == str(weights)
    assert result["normalized_error"] == pytest.approx(expected, rel=1e-4)
    out = tmp_path / "out"
    assert (
        main(
            [
                "invert",
                "samples:coffee",
                "--rep",
                "hog",
                "--method",
                "decoder",
                "--decoder-weights",
                str(weights),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert np.abs(np.asarray(Image.open(out / "coffee.png")).astype(float) - 0.375 * 255).max() <= 1
    lbp = _constant_decoder(tmp_path / "lbp.safetensors", "lbp", (58, 4, 4), 0.375)
    for argv_bad, message in (
        (["evaluate", *argv, str(lbp)], "inverts lbp of 64-px images, not hog"),
        (
            ["evaluate", *argv[:-1], "--method", "optimize", "--decoder-weights", str(weights)],
            "--decoder-weights is for --method decoder",
        ),
        (["evaluate", *argv, str(tmp_path / "missing.safetensors")], "decoder weights not found"),
        (["evaluate", *argv, str(_write(tmp_path / "checkpoint.pt", b"not safetensors"))], "not a safetensors decoder"),
        (["evaluate", *argv, str(_copy(weights, tmp_path / "decoder_hog_autoencoder.safetensors"))], "fine-tuned"),
    ):
        capsys.readouterr()
        assert main(argv_bad) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_restyle_purposeful_direct_and_xia_rates(tmp_path: Path) -> None:
    argv = ["restyle", "samples:chelsea", "--style", "samples:coffee", "--mode", "purposeful-direct"]
    assert main([*argv, "--steps", "3", "-o", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "purposeful_direct.png").is_file()
    argv = ["restyle", "samples:chelsea", "--rates", "xia", "--n", "2", "--steps", "3", "-o", str(tmp_path / "r")]
    assert main(argv) == 0
    assert (tmp_path / "r" / "random_seed1.png").is_file()


@pytest.mark.parametrize("preset", ["xia", "xia-literal"])
def test_invert_runs_xias_recipe(preset: str, tmp_path: Path) -> None:
    # --preset xia is the official recipe (not an OptimizationInverter preset): both names run it
    argv = ["invert", "samples:chelsea", "--rep", "alexnet64:conv3", "--preset", preset, "--steps", "3"]
    assert main([*argv, "-o", str(tmp_path)]) == 0
    assert (tmp_path / "chelsea.png").is_file()


def test_inputs_that_share_a_name_each_get_their_own_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a.png and a.jpg both want a.png, and the next free suffix must not be a_1.png, which a third input owns
    for i, name in enumerate(("a.png", "a.jpg", "a_1.png")):
        Image.fromarray(np.full((64, 64, 3), 40 * (i + 1), dtype=np.uint8)).save(tmp_path / name)
    inputs = [str(tmp_path / n) for n in ("a.png", "a.jpg", "a_1.png")]
    out = tmp_path / "out"
    assert main(["invert", *inputs, "--rep", "hog", "--method", "decoder", "-o", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(set(result["files"])) == 3 and sorted(p.name for p in out.iterdir()) == ["a.png", "a_1.png", "a_2.png"]
    assert result["renamed"] == [["a", "a_2.png"]]


def test_invert_never_writes_over_its_own_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 90, 3), dtype=np.uint8)).save(photo)
    before = photo.read_bytes()
    code = main(["invert", str(photo), "--rep", "hog", "--method", "decoder", "-o", str(tmp_path), "--overwrite"])
    assert code == 2 and "one of the inputs" in capsys.readouterr().err
    assert photo.read_bytes() == before
    assert (
        main(["invert", str(tmp_path), "--rep", "hog", "--method", "decoder", "-o", str(tmp_path), "--overwrite"]) == 2
    )


@pytest.mark.parametrize("command", ["invert", "textures", "evaluate"])
def test_a_seed_out_of_range_is_a_one_line_usage_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = {
        "invert": ["invert", "samples:chelsea", "--rep", "hog", "-o", "x"],
        "textures": ["textures", "samples:chelsea", "-o", "x"],
    }
    argv = args.get(command, ["evaluate", "--rep", "hog", "--data", "samples:all"])
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--seed", "99999999999999999999999"])
    assert stop.value.code == 2 and "out of range" in capsys.readouterr().err
