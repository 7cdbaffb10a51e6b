"""Run settings come from one dataclass: the flags are generated from its fields and ``--config run.toml``
sets the same fields, flags winning over the file and the file over the defaults."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from preimage.cli.args import add_config_arguments, config_from_args
from preimage.cli.main import main
from preimage.errors import PreimageError
from preimage.training.classifier import ClassifierConfig
from preimage.training.decoder import DecoderConfig
from preimage.training.linear import LinearConfig


def _parse(cls: type, argv: list[str]) -> object:
    p = argparse.ArgumentParser()
    add_config_arguments(p, cls)
    return config_from_args(cls, p.parse_args(argv))


def test_every_flag_of_train_decoder_sets_its_field() -> None:
    cfg = _parse(
        DecoderConfig,
        ["--rep", "hog", "--data", "d", "-o", "r", "--size", "224", "--output-size", "64", "--weights", "w.pth",
         "--teacher", "a", "--teacher", "b", "--checkpoint-every", "5", "--stop-after", "2", "--finetune-encoder",
         "--code-transform", "log", "--min-lr", "0.0001"],
    )  # fmt: skip
    assert cfg == DecoderConfig(
        rep="hog", data="d", out="r", input_size=224, output_size=64, encoder_weights="w.pth", teachers=("a", "b"),
        checkpoint_every_s=5.0, stop_after_epochs=2, finetune_encoder=True, code_transform="log", min_lr=1e-4,
    )  # fmt: skip


@pytest.mark.parametrize("cls", [DecoderConfig, ClassifierConfig, LinearConfig])
def test_defaults_on_the_command_line_are_the_dataclass_defaults(cls: type) -> None:
    cfg = _parse(cls, ["--data", "d", "-o", "r", *(["--rep", "hog"] if cls is not ClassifierConfig else [])])
    required = {"data": "d", "out": "r", **({"rep": "hog"} if cls is not ClassifierConfig else {})}
    assert cfg == cls(**required)
    assert ClassifierConfig(data="d", out="r").epochs == 18 and DecoderConfig(rep="x", data="d", out="r").epochs == 10


def test_a_config_file_sets_fields_and_flags_override_it(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text('rep = "alexnet64:fc8"\ndata = "d"\nout = "r"\nepochs = 20\nteachers = ["t1"]\ncrop_pad = 0\n')
    cfg = _parse(DecoderConfig, ["--config", str(toml), "--epochs", "3"])
    assert (cfg.rep, cfg.epochs, cfg.teachers, cfg.crop_pad, cfg.width) == ("alexnet64:fc8", 3, ("t1",), 0, 32)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epoch = 3\n", r"unknown setting 'epoch': did you mean 'epochs'\?"),
        ("epochs = 0\n", r"epochs = 0: 0 is out of range: must be at least 1"),
        ('epochs = "many"\n', r"epochs = 'many': 'many' is not a whole number"),
        ('loss = "l1"\n', r"loss = 'l1': must be one of mse, deepsim"),
        ("finetune_encoder = 1\n", r"expected true or false"),
        ("epochs = [\n", r"is not valid TOML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_setting(tmp_path: Path, text: str, message: str) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(text)
    with pytest.raises(PreimageError, match=message):
        _parse(DecoderConfig, ["--config", str(toml), "--rep", "hog", "--data", "d", "-o", "r"])


def test_a_missing_required_setting_names_its_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-decoder", "--data", "d", "-o", "r"]) == 2
    err = capsys.readouterr().err
    assert "--rep required" in err and "Traceback" not in err


def test_every_field_is_offered_or_deliberately_hidden() -> None:
    p = argparse.ArgumentParser()
    add_config_arguments(p, DecoderConfig)
    offered = {a.dest for a in p._actions}
    hidden = {"threads", "train_pattern", "val_pattern"}  # --threads is every command's; patterns are the data's
    assert {f.name for f in dataclasses.fields(DecoderConfig)} - offered == hidden
