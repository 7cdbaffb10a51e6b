"""The zoo catalogue: the manifest describes exactly the shipped files, and lookups fail in one line."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from preimage import zoo
from preimage.cli.main import main
from preimage.errors import PreimageError


def test_the_manifest_lists_every_shipped_file_once_with_its_card() -> None:
    listed = [e.file for e in zoo.entries()]
    assert sorted(listed) == sorted({*listed})
    weights = {p.name for p in zoo.ZOO_DIR.glob("*.safetensors") if not p.name.startswith("encoder_")}
    assert set(listed) == weights
    for entry in zoo.entries():
        assert entry.card_path.is_file(), entry.file
        assert all((zoo.ZOO_DIR / f).is_file() for f in entry.companions.values())


def test_the_manifest_agrees_with_what_the_files_say() -> None:
    # everything the files themselves record (configs, card metrics) is what the manifest says; the network a
    # decoder decodes may be recorded by the manifest alone (files from before decoders recorded it)
    scanned = {e.file: e for e in zoo.scan()}
    network = hashlib.sha256(zoo.find("network", "alexnet64").path.read_bytes()).hexdigest()
    for entry in zoo.entries():
        found = scanned[entry.file]
        assert replace(entry, network_sha256=found.network_sha256) == found
        if entry.kind in ("decoder", "autoencoder") and entry.name.startswith("alexnet64:"):
            assert entry.network_sha256 == network, f"{entry.file} decodes other alexnet64 weights"


def test_lookups_name_what_is_shipped_instead() -> None:
    assert zoo.find("decoder", "hog", 224).input_size == 224 and zoo.find("decoder", "hog", 224).output_size == 64
    with pytest.raises(PreimageError, match=r"no trained decoder for 'hog-dt' is shipped \(shipped: .*hog.*\)"):
        zoo.find("decoder", "hog-dt")
    with pytest.raises(PreimageError, match=r"shipped for 64 px"):
        zoo.find("decoder", "lbp@4", 224)
    with pytest.raises(PreimageError, match=r"no 'tiny' variant of the hog decoder is shipped \(variants: fast"):
        zoo.find("decoder", "hog", variant="tiny")
    with pytest.raises(PreimageError, match="valid kinds"):
        zoo.entries("decoders")
    assert zoo.file_name("decoder", "alexnet64:fc8", 224, "linear") == "decoder_alexnet64_fc8.linear.224px.safetensors"
    assert zoo.encoder_file_name("alexnet64:conv2") == "encoder_alexnet64_conv2_autoencoder.safetensors"


def test_list_zoo_prints_one_row_per_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "zoo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(zoo.entries()) and "decoder_hog.224px.safetensors" in "\n".join(lines)


def test_a_shipped_decoder_refuses_other_network_weights(tmp_path: Path) -> None:
    # the catalogue records which alexnet64 the shipped decoders decode, also for files that do not say it
    from preimage.inverters.decoders import load_decoder
    from preimage.models import AlexNet64
    from preimage.representations import create_representation

    torch.manual_seed(0)
    other = tmp_path / "other.safetensors"
    save_file({k: v.contiguous() for k, v in AlexNet64().state_dict().items()}, str(other))
    rep = create_representation("alexnet64:fc8", weights=str(other))
    with pytest.raises(PreimageError, match="was trained on alexnet64:fc8 weights with SHA-256 e9ec1eb46f91"):
        load_decoder(rep)
    load_decoder(create_representation("alexnet64:fc8", weights="default"))  # the shipped pair loads
