from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from preimage.training.classifier import ClassifierConfig, train_classifier
from tests.conftest import make_tiny_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_dataset(root)
    return root


def test_loss_falls_and_weights_are_exported(data: Path, tmp_path: Path) -> None:
    cfg = ClassifierConfig(
        data=str(data), out=str(tmp_path / "run"), epochs=5, batch_size=32, lr=0.02, warmup_epochs=0.5
    )
    summary = train_classifier(cfg)
    log = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    losses = [float(line.split(",")[1]) for line in log[1:]]
    assert losses[-1] < losses[0] * 0.8
    # 4 classes, 64 val images: chance is 25% (16 right, sd 3.5); 40% (26 right) has p < 0.01 under chance
    # (binomial tail), so this fails for a model that learned nothing, without demanding a lucky split
    assert summary["n_val"] == 64
    assert summary["val_top1"] >= 40.0
    weights = load_file(str(tmp_path / "run" / "alexnet64.safetensors"))
    assert weights["features.0.weight"].dtype == torch.float16 and "features.0.bn.weight" not in weights
    assert (tmp_path / "run" / "alexnet64.md").read_text().count("top-1") >= 1


def test_resume_reproduces_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    base = {"data": str(data), "epochs": 2, "batch_size": 32, "limit_train": 128, "seed": 3}
    train_classifier(ClassifierConfig(out=str(tmp_path / "a"), **base))  # type: ignore[arg-type]
    train_classifier(ClassifierConfig(out=str(tmp_path / "b"), stop_after_epochs=1, **base))  # type: ignore[arg-type]
    assert not (tmp_path / "b" / "alexnet64.safetensors").exists()
    train_classifier(ClassifierConfig(out=str(tmp_path / "b"), **base), resume=True)  # type: ignore[arg-type]
    a = load_file(str(tmp_path / "a" / "alexnet64.safetensors"))
    b = load_file(str(tmp_path / "b" / "alexnet64.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gather_crops_match_slicing_by_hand() -> None:
    # the GPU path of augment: one gather must equal slicing each padded image (and mirroring it)
    from preimage.training.classifier import crops_by_gather

    padded = torch.arange(2 * 3 * 10 * 12, dtype=torch.float32).view(2, 3, 10, 12)
    offs = torch.tensor([[1, 3], [2, 0]])
    flips = torch.tensor([False, True])
    out = crops_by_gather(padded, offs, flips, 6, 8)
    assert torch.equal(out[0], padded[0, :, 1:7, 3:11])
    assert torch.equal(out[1], padded[1, :, 2:8, 0:8].flip(-1))


def test_vgg19_64_trains_and_exports_the_plain_shipped_layout(data: Path, tmp_path: Path) -> None:
    from preimage.models import create_model

    cfg = ClassifierConfig(
        data=str(data), out=str(tmp_path / "v"), model="vgg19_64", epochs=1, batch_size=32, limit_train=64
    )
    summary = train_classifier(cfg)
    path = tmp_path / "v" / "vgg19_64.safetensors"
    weights = load_file(str(path))
    assert weights["features.0.weight"].dtype == torch.float16 and "features.0.bn.weight" not in weights
    assert len([k for k in weights if k.startswith("features.") and k.endswith(".weight")]) == 16
    model = create_model("vgg19_64", weights=path)  # strict load into the registered, folded form
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 200)
    assert summary["size_mb"] <= 12.0
    assert "vgg19_64" in (tmp_path / "v" / "vgg19_64.md").read_text()


def test_a_run_lengthened_on_resume_says_so_in_its_card(data: Path, tmp_path: Path) -> None:
    from preimage.training.classifier import schedule_restarts

    base = {"data": str(data), "batch_size": 32, "limit_train": 64, "seed": 1, "warmup_epochs": 0.0}
    train_classifier(ClassifierConfig(out=str(tmp_path / "r"), epochs=1, **base))  # type: ignore[arg-type]
    summary = train_classifier(ClassifierConfig(out=str(tmp_path / "r"), epochs=4, **base), resume=True)  # type: ignore[arg-type]
    assert summary["epochs"] == 4
    lrs = [float(r.split(",")[5]) for r in (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1:]]
    assert lrs[1] > lrs[0]  # stretched from 1 to 4 epochs, the cosine rises again
    card = (tmp_path / "r" / "alexnet64.md").read_text()
    assert "warm restart at epoch 2" in card and "--epochs 1 " in card and "--resume --epochs 4" in card
    assert schedule_restarts([{"epoch": 1, "lr": 0.1}, {"epoch": 2, "lr": 0.05}]) == []


def test_frozen_features_train_only_the_head_of_the_width_asked(data: Path, tmp_path: Path) -> None:
    from preimage import zoo

    shipped = zoo.find("network", "alexnet64").path
    cfg = ClassifierConfig(
        data=str(data), out=str(tmp_path / "h"), epochs=2, batch_size=32, fc_width=96, frozen_features=str(shipped)
    )
    summary = train_classifier(cfg)
    given, exported = load_file(str(shipped)), load_file(str(tmp_path / "h" / "alexnet64.safetensors"))
    convs = [k for k in given if k.startswith("features.")]
    assert convs and all(torch.equal(exported[k], given[k]) for k in convs)
    assert exported["classifier.1.weight"].shape == (96, 128 * 4 * 4)
    assert exported["classifier.6.weight"].shape == (200, 96)
    assert summary["val_top1"] >= 40.0  # 4 classes: chance is 25%; the shipped convolutions separate them
    card = (tmp_path / "h" / "alexnet64.md").read_text()
    assert "(96-96-200)" in card and "--frozen-features" in card and "kept fixed" in card


def test_a_frozen_copy_keeps_the_shipped_conv_decoders_valid_and_refuses_its_fc_ones(
    data: Path, tmp_path: Path
) -> None:
    """Its conv codes are the shipped network's, bit for bit, so only its fc codes are new."""
    from preimage import zoo
    from preimage.errors import PreimageError
    from preimage.files import file_sha256
    from preimage.inverters.decoders import Decoder, check_encoder
    from preimage.representations import create_representation

    shipped = zoo.find("network", "alexnet64").path
    cfg = ClassifierConfig(
        data=str(data), out=str(tmp_path / "c"), epochs=1, batch_size=32, limit_train=64, frozen_features=str(shipped)
    )
    train_classifier(cfg)
    new = str(tmp_path / "c" / "alexnet64.safetensors")
    conv5, fc8 = (create_representation(f"alexnet64:{layer}", weights=new) for layer in ("conv5", "fc8"))
    old_conv5 = create_representation("alexnet64:conv5")
    images = torch.rand(2, 3, 64, 64)
    assert torch.equal(conv5(images), old_conv5(images))
    assert conv5.weights_sha256 == file_sha256(shipped) and fc8.weights_sha256 == file_sha256(new)
    check_encoder(Decoder.from_pretrained("alexnet64:conv5"), conv5, "shipped conv5 decoder")
    with pytest.raises(PreimageError, match="was trained on alexnet64:fc8 weights"):
        check_encoder(Decoder.from_pretrained("alexnet64:fc8"), fc8, "shipped fc8 decoder")


def test_frozen_features_of_another_network_is_a_one_line_error(data: Path, tmp_path: Path) -> None:
    from preimage import zoo
    from preimage.errors import PreimageError

    other = zoo.find("network", "vgg19_64").path
    cfg = ClassifierConfig(data=str(data), out=str(tmp_path / "x"), epochs=1, frozen_features=str(other))
    with pytest.raises(PreimageError, match="not a plain alexnet64"):
        train_classifier(cfg)
    with pytest.raises(PreimageError, match="--fc-width applies to alexnet64"):
        train_classifier(ClassifierConfig(data=str(data), out=str(tmp_path / "v"), model="vgg19_64", fc_width=8))
