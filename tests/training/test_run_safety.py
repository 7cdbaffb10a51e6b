"""A training run cannot be clobbered, resumed with other settings, poisoned by NaN or divergence, or run empty."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from preimage.errors import PreimageError
from preimage.training import decoder as decoder_module
from preimage.training.common import RESUME_MAY_CHANGE, check_resume_config, load_checkpoint
from preimage.training.decoder import DecoderConfig, train_decoder
from tests.conftest import make_tiny_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_dataset(root, n_per_class=8)  # 32 training images: 2 steps of 16 per epoch
    return root


def _cfg(data: Path, out: Path, **kw: Any) -> DecoderConfig:
    base: dict[str, Any] = {
        "rep": "hog",
        "data": str(data),
        "out": str(out),
        "epochs": 2,
        "batch_size": 16,
        "width": 4,
        "limit_val": 16,
        "amp": "none",
        "device": "cpu",
    }
    return DecoderConfig(**{**base, **kw})


def _epochs_logged(run: Path) -> list[str]:
    with open(run / "metrics.csv") as fh:
        return [row["epoch"] for row in csv.DictReader(fh)]


def test_a_run_folder_is_not_restarted_without_resume_or_overwrite(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_decoder(_cfg(data, run, stop_after_epochs=1))
    before = (run / "checkpoint.pt").read_bytes()
    with pytest.raises(PreimageError, match=r"`resume` to continue it, or `overwrite`"):
        train_decoder(_cfg(data, run))
    assert (run / "checkpoint.pt").read_bytes() == before  # untouched
    assert _epochs_logged(run) == ["1"]
    train_decoder(_cfg(data, run, epochs=1), overwrite=True)  # starts again: the old log is gone, not appended to
    assert _epochs_logged(run) == ["1"]
    assert (run / "decoder_hog.safetensors").is_file()


def test_resume_names_the_settings_that_differ(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_decoder(_cfg(data, run, stop_after_epochs=1))
    with pytest.raises(PreimageError, match=r"`width` 4 \(now 8\)") as err:
        train_decoder(_cfg(data, run, width=8), resume=True)
    assert "\n" not in str(err.value)
    with pytest.raises(PreimageError, match=r"`rep` 'hog' \(now 'lbp'\)"):
        train_decoder(_cfg(data, run, rep="lbp"), resume=True)
    # the run length may change: resuming for a third epoch is allowed and goes on from epoch 1
    train_decoder(_cfg(data, run, epochs=3), resume=True)
    assert _epochs_logged(run) == ["1", "2", "3"]


def test_resume_may_change_only_what_leaves_the_model_and_data_alone() -> None:
    saved = {"width": 4, "lr": 1e-3, "epochs": 2, "checkpoint_every_s": 300.0, "teachers": ()}
    check_resume_config(saved, {**saved, "epochs": 5, "checkpoint_every_s": 10.0, "teachers": []}, Path("c"))
    assert {"epochs", "checkpoint_every_s", "threads"} <= RESUME_MAY_CHANGE
    assert not {"width", "lr", "rep", "batch_size", "seed", "amp", "size"} & RESUME_MAY_CHANGE
    # a checkpoint from before a setting existed records nothing to compare it with
    check_resume_config(saved, {**saved, "crop_pad": 4}, Path("c"))
    with pytest.raises(PreimageError, match=r"`lr` 0.001 \(now 0.01\)"):
        check_resume_config(saved, {**saved, "lr": 1e-2}, Path("c"))


def test_a_run_with_no_steps_is_refused(data: Path, tmp_path: Path) -> None:
    with pytest.raises(PreimageError, match=r"`batch_size=64` is larger than the 32 training images"):
        train_decoder(_cfg(data, tmp_path / "run", batch_size=64))
    assert not (tmp_path / "run" / "decoder_hog.safetensors").exists()


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = F.mse_loss  # decoder_module.F is torch.nn.functional itself: keep the original before patching

    def poisoned(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1  # 2 steps an epoch: the 4th call is the last step of epoch 2
        loss = real(pred, target)
        return loss * math.nan if calls["n"] == 4 else loss

    monkeypatch.setattr(decoder_module.F, "mse_loss", poisoned)
    run = tmp_path / "run"
    with pytest.raises(PreimageError, match=r"loss became nan at epoch 2 step 2; stopped \(the last good checkpoint"):
        train_decoder(_cfg(data, run, epochs=3))
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert (ckpt["epoch"], ckpt["step_in_epoch"]) == (1, 0)  # written after epoch 1, never after the NaN
    assert all(bool(torch.isfinite(v).all()) for v in ckpt["model"].values() if v.is_floating_point())
    assert not (run / "decoder_hog.safetensors").exists()


def test_a_finite_but_diverged_loss_stops_like_a_nan(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as two width-48 runs did on a GPU: the loss jumped to ~1e5 and stayed finite; a pixel MSE against images
    # in [0, 1] above 1 cannot come from a converging decoder, so the run stops before saving those weights
    calls = {"n": 0}
    real = F.mse_loss

    def exploded(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        loss = real(pred, target)
        return loss * 1e5 if calls["n"] == 4 else loss

    monkeypatch.setattr(decoder_module.F, "mse_loss", exploded)
    run = tmp_path / "run"
    with pytest.raises(
        PreimageError, match=r"diverged: mean loss .* at epoch 2 step 2, above 1; stopped \(the last good"
    ):
        train_decoder(_cfg(data, run, epochs=3))
    ckpt = load_checkpoint(run / "checkpoint.pt")
    assert (ckpt["epoch"], ckpt["step_in_epoch"]) == (1, 0)
    assert not (run / "decoder_hog.safetensors").exists()


def test_resume_compares_data_paths_after_resolving_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a run started as "../shared/data/x" from one folder and resumed as an absolute path is the same run
    (tmp_path / "data").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    saved = {"data": str(tmp_path / "data"), "lr": 1e-3}
    check_resume_config(saved, {**saved, "data": "../data"}, Path("c"))
    with pytest.raises(PreimageError, match=r"`data`"):
        check_resume_config(saved, {**saved, "data": "../other"}, Path("c"))


def test_shift_cells_trains_on_stored_codes_and_is_refused_with_crops(data: Path, tmp_path: Path) -> None:
    with pytest.raises(PreimageError, match=r"`shift_cells` .* `crop_pad=0`"):
        train_decoder(_cfg(data, tmp_path / "a", crop_pad=4, shift_cells=1))
    # a representation computed per batch (a code above DenseCodePairs.MAX_VALUES) is refused before any data
    # is read (this folder holds none)
    with pytest.raises(PreimageError, match=r"`shift_cells` needs codes stored once"):
        train_decoder(_cfg(tmp_path / "no-data", tmp_path / "c", rep="vgg19_64:relu1_1", crop_pad=0, shift_cells=1))
    summary = train_decoder(_cfg(data, tmp_path / "b", crop_pad=0, shift_cells=2, epochs=1))
    assert math.isfinite(summary["val"]["normalized_error"])
    assert "--shift-cells 2" in (tmp_path / "b" / "decoder_hog.md").read_text()


def test_strict_covers_the_final_evaluation_and_cached_arrays(tmp_path: Path) -> None:
    # the per-epoch validation reads the first few val images only; the final one reads them all, and a
    # damaged val shard must stop a --strict run there too, also when the arrays come from the cache
    import shutil

    from preimage.data import materialize
    from preimage.inverters.hoggles import HogglesConfig
    from preimage.training.hoggles import train_hoggles

    root = tmp_path / "data"
    root.mkdir()
    make_tiny_dataset(root, n_per_class=8)
    val = root / "val-0000.tar.gz"
    val.write_bytes(val.read_bytes()[: val.stat().st_size * 2 // 3])
    with pytest.raises(PreimageError, match="`strict`"):
        train_decoder(_cfg(root, tmp_path / "run", epochs=1, limit_val=4), strict=True)
    with pytest.raises(PreimageError, match="`strict`"):
        train_hoggles(str(root), str(tmp_path / "hg"), HogglesConfig(atoms=4, windows=50, epochs=1), 8, None, True)
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning):
        lenient, _ = materialize(str(val), 64, cache_dir=cache)
    with pytest.raises(PreimageError, match="counted when"):
        materialize(str(val), 64, cache_dir=cache, strict=True)
    shutil.rmtree(cache)
    assert 0 < len(lenient) < 64


def test_a_damaged_checkpoint_is_named_corrupt_not_resumed(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_decoder(_cfg(data, run, stop_after_epochs=1))
    ckpt = run / "checkpoint.pt"
    raw = bytearray(ckpt.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = b"\xff" * 4096  # inside a tensor: torch alone would load it
    ckpt.write_bytes(bytes(raw))
    with pytest.raises(PreimageError, match="corrupt"):
        train_decoder(_cfg(data, run), resume=True)
    # a checkpoint from before checksums is read as it is
    legacy = tmp_path / "legacy.pt"
    torch.save({"epoch": 3}, legacy)
    assert load_checkpoint(legacy) == {"epoch": 3}


def test_a_resume_mismatch_names_the_flag_the_user_typed(tmp_path: Path) -> None:
    from preimage.cli.main import build_parser
    from preimage.training.common import check_resume_config

    saved = {"encoder_weights": "a.pth", "input_size": 64, "checkpoint_every_s": 300.0}
    now = {"encoder_weights": "b.pth", "input_size": 224, "checkpoint_every_s": 60.0}
    with pytest.raises(
        PreimageError, match=r"`encoder_weights` 'a.pth' \(now 'b.pth'\), `input_size` 64 \(now 224\) —"
    ) as err:
        check_resume_config(saved, now, tmp_path / "checkpoint.pt")
    assert "checkpoint_every" not in str(err.value)  # the checkpoint interval may change on resume
    flags = build_parser().parse_args(["train-decoder"])._flags
    assert "--weights 'a.pth' (now 'b.pth'), --size 64 (now 224) —" in err.value.for_command_line(flags)
