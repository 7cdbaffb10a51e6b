"""Library errors name Python parameters; the command line rewrites them into its flags."""

from __future__ import annotations

import pytest

from preimage.cli.main import main
from preimage.errors import PreimageError


def test_parameters_become_the_commands_flags() -> None:
    err = PreimageError("no 32-px decoder — pass `input_size=64`, or `overwrite`; `nothing=1` has no flag")
    flags = {"input_size": "--size", "overwrite": "--overwrite"}
    assert err.for_command_line(flags) == "no 32-px decoder — pass --size 64, or --overwrite; nothing=1 has no flag"


def test_renamed_keeps_type_and_values() -> None:
    err = PreimageError("`weights` x.safetensors and `variant=sharp` both pick the decoder").renamed(
        {"weights": "decoder_weights", "variant": "decoder_variant"}
    )
    assert str(err) == "`decoder_weights` x.safetensors and `decoder_variant=sharp` both pick the decoder"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["invert", "samples:astronaut", "--rep", "hog", "--method", "decoder", "--size", "40", "-o", "{out}"],
            "--size 64",
        ),
        (["train-decoder", "--rep", "hog", "--data", "{out}", "-o", "{out}/r", "--crop-pad", "99"], "--crop-pad 99"),
        (
            ["train-decoder", "--rep", "hog", "--data", "{out}", "-o", "{out}/r", "--device", "cuda"],
            "--device cuda: this machine has no CUDA GPU — use --device cpu",
        ),
    ],
)
def test_the_cli_names_flags_not_parameters(
    argv: list[str], words: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([a.format(out=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert words in err and "`" not in err and len(err.strip().splitlines()) == 1, err
