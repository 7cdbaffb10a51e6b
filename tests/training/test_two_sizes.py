"""The paper's protocol: features of larger images, reconstructions at a smaller size (224 -> 64 at full scale).

Small stand-ins keep it fast: 64-px images whose HOG/LBP are decoded to 32 px, and 224-px shapes checked
without training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from preimage.inverters.decoders import Decoder, DecoderArch, SpatialDecoder, expansion_plan
from preimage.representations import create_representation
from preimage.training.code_store import SparseCodePairs
from preimage.training.decoder import Batches, DecoderConfig, precomputed_codes, train_decoder
from tests.conftest import make_tiny_dataset


@pytest.mark.parametrize(
    ("code", "image", "plan"),
    [
        (8, 64, (8, 3)),  # the 64-px protocol: up-convolutions alone, nothing resampled
        (4, 64, (4, 4)),
        (28, 64, (32, 1)),  # HOG of a 224-px photo: 28 -> 32, one doubling
        (14, 64, (16, 2)),  # LBP (cell 16) of a 224-px photo
        (56, 64, (64, 0)),  # SIFT on a 4-px grid of a 224-px photo
        (128, 64, (64, 0)),  # a code larger than the image: resampled down
    ],
)
def test_expansion_plan(code: int, image: int, plan: tuple[int, int]) -> None:
    assert expansion_plan(code, image) == plan


@pytest.mark.parametrize(("code", "halvings", "base"), [(8, 0, 8), (28, 0, 32), (32, 0, 32), (56, 1, 32), (128, 2, 32)])
def test_codes_finer_than_half_the_image_are_halved_in_the_stem(code: int, halvings: int, base: int) -> None:
    net = SpatialDecoder(5, code, 64, width=4)
    assert (net.halvings, net.base) == (halvings, base)
    assert net.stem(torch.rand(1, 5, code, code)).shape[-1] == -(-code // 2**halvings)


@pytest.mark.parametrize(("channels", "code"), [(31, 28), (58, 14), (133, 56), (31, 7)])
def test_non_power_of_two_codes_decode_to_64(channels: int, code: int) -> None:
    net = SpatialDecoder(channels, code, 64, width=4)
    out = net(torch.rand(2, channels, code, code))
    assert out.shape == (2, 3, 64, 64)
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_decoder_records_both_sizes(tmp_path: Path) -> None:
    from preimage.training.common import export_safetensors

    dec = Decoder(DecoderArch("hog", (31, 28, 28), 64, 4, input_size=224))
    path = export_safetensors(
        dec.state_dict(), tmp_path / "d.safetensors", metadata={"config": json.dumps(dec.config())}
    )
    back = Decoder.from_file(path)
    assert (back.input_size, back.output_size, back.code_shape) == (224, 64, (31, 28, 28))
    # a file from before the two sizes: its input was its output size
    cfg = {k: v for k, v in dec.config().items() if k != "input_size"} | {"code_shape": [31, 8, 8]}
    old = Decoder(DecoderArch("hog", (31, 8, 8), 64, 4))
    path = export_safetensors(old.state_dict(), tmp_path / "old.safetensors", metadata={"config": json.dumps(cfg)})
    assert Decoder.from_file(path).input_size == 64


def test_precomputed_codes_give_the_batches_of_the_on_the_fly_path() -> None:
    # LBP mirrors its code exactly, so storing the codes once and mirroring them for flipped images is the
    # same training data as computing every flipped image's code
    rep = create_representation("lbp@8")
    gen = torch.Generator().manual_seed(3)
    images = (torch.rand(12, 3, 64, 64, generator=gen) * 255).to(torch.uint8)
    cfg = DecoderConfig(rep="lbp@8", data="", out="", crop_pad=0)
    stored = precomputed_codes(cfg, rep, images, 0)
    assert stored is not None
    order = torch.randperm(12, generator=gen)
    fast = Batches(images, order, 4, 0, 0, 0, 1, None, 0, stored)
    slow = Batches(images, order, 4, 0, 0, 0, 1, rep, 0)
    flipped = 0
    for step in range(3):
        (xa, ca, _), (xb, cb, _) = fast[step], slow[step]
        assert torch.equal(xa, xb) and ca is not None and cb is not None
        torch.testing.assert_close(ca, cb, rtol=0, atol=1e-6)
        flipped += int((xa != images[order[step * 4 : step * 4 + 4]].float() / 255).any())
    assert flipped  # the seeded draws mirrored some images, so the mirroring of codes was exercised
    # crops make every epoch's codes new: nothing is stored
    assert precomputed_codes(DecoderConfig(rep="lbp@8", data="", out="", crop_pad=4), rep, images, 0) is None


def test_sparse_sift_codes_and_their_mirrors_are_the_codes_of_the_batches(tmp_path: Path) -> None:
    # SIFT does not mirror its code, so the store keeps the code of each image and of its mirror image;
    # the batches must carry exactly the codes SIFT computes on the (flipped) images, up to fp16 storage
    from preimage.data.images import fit_image
    from preimage.data.samples import load_sample

    rep = create_representation("sift")
    photos = [fit_image(load_sample(n), 64, "center") for n in ("astronaut", "camera", "coffee", "chelsea")]
    images = (torch.stack(photos) * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    cfg = DecoderConfig(rep="sift", data=str(tmp_path), out="", crop_pad=0, cache_dir=str(tmp_path / "cache"))
    stored = precomputed_codes(cfg, rep, images, 0)
    assert isinstance(stored, SparseCodePairs)
    assert list((tmp_path / "cache").glob("codes_sift_64px_*.pt"))  # kept for a resume
    again = precomputed_codes(cfg, rep, images, 0)  # read back from the cache
    assert isinstance(again, SparseCodePairs) and torch.equal(again.values, stored.values)
    order = torch.tensor([2, 0, 3, 1])
    fast = Batches(images, order, 4, 0, 0, 0, 1, None, 0, again)
    slow = Batches(images, order, 4, 0, 0, 0, 1, rep, 0)
    (xa, ca, _), (xb, cb, _) = fast[0], slow[0]
    assert torch.equal(xa, xb) and ca is not None and cb is not None
    assert (cb.abs() > 0).any()
    torch.testing.assert_close(ca, cb.half().float(), rtol=0, atol=0)
    flips = torch.tensor([True, False, True, False])
    mirrored = rep(images[order].float().div(255).flip(-1))
    plain = rep(images[order].float().div(255))
    picked = again.select(order, flips)
    torch.testing.assert_close(picked[flips], mirrored[flips].half().float(), rtol=0, atol=0)
    torch.testing.assert_close(picked[~flips], plain[~flips].half().float(), rtol=0, atol=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny2")
    make_tiny_dataset(root, n_per_class=8)
    return root


def _small_hog_run(data: Path, out: Path, **settings: Any) -> DecoderConfig:
    """One CPU epoch of a tiny HOG decoder on the four-class stand-in set."""
    return DecoderConfig(
        rep="hog", data=str(data), out=str(out), epochs=1, batch_size=16, width=4, limit_val=16, amp="none",
        device="cpu", **settings,
    )  # fmt: skip


def test_training_at_two_sizes_exports_a_sized_decoder(data: Path, tmp_path: Path) -> None:
    summary = train_decoder(_small_hog_run(data, tmp_path / "run", input_size=64, output_size=24))
    # a 64-px input is the default size, so the file is named as the zoo's 64-px decoders are
    dec = Decoder.from_file(tmp_path / "run" / "decoder_hog.safetensors")
    assert (dec.input_size, dec.output_size) == (64, 24)
    assert dec(create_representation("hog")(torch.rand(2, 3, 64, 64))).shape == (2, 3, 24, 24)
    val = summary["val"]
    assert {"normalized_error", "ci95", "normalized_error_full", "ci95_full"} <= set(val)
    assert summary["output_size"] == 24 and summary["input_size"] == 64
    card = (tmp_path / "run" / "decoder_hog.md").read_text()
    assert "--output-size 24" in card and "downsampled to 24 px" in card


def test_output_larger_than_input_is_refused(data: Path, tmp_path: Path) -> None:
    from preimage.errors import PreimageError

    cfg = DecoderConfig(rep="hog", data=str(data), out=str(tmp_path / "r"), input_size=32, output_size=64)
    with pytest.raises(PreimageError, match="larger than `input_size=32`"):
        train_decoder(cfg)


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zoo with a 64-px HOG decoder, its fast variant, and a 224-px one (random weights)."""
    import preimage.zoo as zoo_module
    from preimage.training.common import export_safetensors

    for name, dec in (
        ("decoder_hog.safetensors", Decoder(DecoderArch("hog", (31, 8, 8), 64, 4))),
        ("decoder_hog.fast.safetensors", Decoder(DecoderArch("hog", (31, 8, 8), 64, 4, shuffle=2))),
        ("decoder_hog.224px.safetensors", Decoder(DecoderArch("hog", (31, 28, 28), 64, 4, input_size=224))),
        ("decoder_lbp.safetensors", Decoder(DecoderArch("lbp", (58, 4, 4), 64, 4))),
    ):
        export_safetensors(dec.state_dict(), tmp_path / name, metadata={"config": json.dumps(dec.config())})
    monkeypatch.setattr(zoo_module, "ZOO_DIR", tmp_path)
    zoo_module.write_manifest(tmp_path)
    return tmp_path


def test_the_zoo_is_looked_up_by_input_size(zoo: Path) -> None:
    from preimage.errors import PreimageError
    from preimage.inverters.decoders import shipped_reps, shipped_sizes, shipped_variants

    assert shipped_reps() == ["hog", "lbp"]  # sized and variant files are not other representations
    assert shipped_sizes("hog") == [64, 224] and shipped_sizes("lbp") == [64]
    assert shipped_variants("hog") == ["fast"] and shipped_variants("hog", 224) == []
    assert Decoder.from_pretrained("hog", size=224).input_size == 224
    assert Decoder.from_pretrained("hog").input_size == 64
    with pytest.raises(PreimageError, match=r"no lbp decoder for 224-px images is shipped \(shipped for 64 px\)"):
        Decoder.from_pretrained("lbp", size=224)
    # a 224-px code given to the 64-px decoder names the decoder that fits, and the reverse
    with pytest.raises(PreimageError, match=r"224-px decoder \(`size=224`\)"):
        Decoder.from_pretrained("hog")(torch.rand(1, 31, 28, 28))
    with pytest.raises(PreimageError, match=r"64-px decoder \(`size=64`"):
        Decoder.from_pretrained("hog", size=224)(torch.rand(1, 31, 8, 8))


def test_cli_decodes_a_photo_at_the_papers_protocol(
    zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from preimage.cli.main import main

    photo = tmp_path / "photo.png"
    Image.fromarray((torch.rand(150, 300, 3) * 255).to(torch.uint8).numpy()).save(photo)  # smaller than 224
    assert (
        main(["invert", str(photo), "--rep", "hog", "--size", "224", "--method", "decoder", "-o", str(tmp_path / "o")])
        == 0
    )
    err = capsys.readouterr().err
    assert "1 of 1 images are smaller than 224 px and were upsampled" in err and len(err.splitlines()) == 1
    assert Image.open(tmp_path / "o" / "photo.png").size == (64, 64)
    # a larger output than the decoder's: upsampled, with a warning that says it adds no detail
    assert (
        main(
            [
                "invert",
                str(photo),
                "--rep",
                "hog",
                "--size",
                "224",
                "--method",
                "decoder",
                "--output-size",
                "128",
                "-o",
                str(tmp_path / "o2"),
            ]
        )
        == 0
    )
    assert "adds no detail" in capsys.readouterr().err
    assert Image.open(tmp_path / "o2" / "photo.png").size == (128, 128)


def test_shifting_an_image_and_its_code_by_whole_cells_keeps_them_a_pair() -> None:
    # the SIFT cells that stay after a shift by whole cells are the codes of the pixels that stay: the code of
    # a photo shifted (and cropped) by k cells equals the stored code shifted by k, away from the borders
    from preimage.data.images import fit_image
    from preimage.data.samples import load_sample
    from preimage.training.decoder import shift_with_code

    rep = create_representation("sift")
    photo = fit_image(load_sample("astronaut"), 64, "center")[None]
    code = rep(photo)  # (1, 133, 16, 16): 4-px cells
    shifted_x, shifted_c, valid = shift_with_code(photo, code, torch.tensor([[2, -3]]))
    # hand-made: the image moved 8 px down and 12 px left, the code 2 cells down and 3 left
    assert torch.equal(shifted_x[0, :, 8:, :52], photo[0, :, :56, 12:])
    assert torch.equal(shifted_c[0, :, 2:, :13], code[0, :, :14, 3:])
    assert shifted_x[0, :, :8].abs().sum() == 0 and shifted_c[0, :, :2].abs().sum() == 0
    assert valid[0, 0].sum() == 56 * 52 and valid[0, 0, 8:, :52].all()
    # against SIFT itself, at 224 px: the code of the moved photo is the moved code in almost every cell away
    # from the borders (not all: SIFT's subsampled octaves make keypoint choice only nearly shift-equivariant)
    photo = fit_image(load_sample("astronaut"), 224, "center")[None]
    code = rep(photo)  # (1, 133, 56, 56)
    moved_x, moved_c, _ = shift_with_code(photo, code, torch.tensor([[2, -3]]))
    recomputed = rep(moved_x)[0, :, 6:50, 6:50]
    same = ((recomputed - moved_c[0, :, 6:50, 6:50]).abs().amax(0) < 1e-4).float().mean()
    assert same > 0.9, f"only {float(same):.2f} of the inner cells agree"


def test_shift_cells_zero_gives_the_flips_only_batches_and_k_moves_image_and_code_together() -> None:
    rep = create_representation("lbp@8")
    gen = torch.Generator().manual_seed(4)
    images = (torch.rand(8, 3, 64, 64, generator=gen) * 255).to(torch.uint8)
    stored = precomputed_codes(DecoderConfig(rep="lbp@8", data="", out="", crop_pad=0), rep, images, 0)
    assert stored is not None
    order = torch.arange(8)
    plain = Batches(images, order, 8, 0, 0, 0, 1, None, 0, stored)[0]
    none = Batches(images, order, 8, 0, 0, 0, 1, None, 0, stored, shift_cells=0)[0]
    assert torch.equal(plain[0], none[0]) and none[2] is None
    x, codes, valid = Batches(images, order, 8, 0, 0, 0, 1, None, 0, stored, shift_cells=2)[0]
    assert valid is not None and codes is not None
    assert (valid.flatten(1).mean(1) < 1).any()  # some images moved
    # every valid pixel is a pixel of the flips-only image moved by whole 8-px cells, and the code moved with it
    for i in range(8):
        rows, cols = valid[i, 0].any(1).nonzero().flatten(), valid[i, 0].any(0).nonzero().flatten()
        dy = int(rows[0]) if rows[0] > 0 else int(rows[-1]) + 1 - 64
        dx = int(cols[0]) if cols[0] > 0 else int(cols[-1]) + 1 - 64
        assert dy % 8 == 0 and dx % 8 == 0 and abs(dy) <= 16 and abs(dx) <= 16
        expected = torch.roll(plain[0][i], (dy, dx), (-2, -1)) * valid[i]
        assert torch.equal(x[i], expected)
        code = torch.roll(plain[1][i], (dy // 8, dx // 8), (-2, -1))
        kept = valid[i, 0, ::8, ::8].bool()
        assert torch.equal(codes[i][:, kept], code[:, kept]) and codes[i][:, ~kept].abs().sum() == 0


def test_extra_training_images_join_the_training_set_not_validation(data: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    make_tiny_dataset(other, n_per_class=4)  # 16 more training photos
    summary = train_decoder(_small_hog_run(data, tmp_path / "run", extra_train=str(other / "train-*.tar.gz")))
    assert summary["train_images"] == 8 * 4 + 4 * 4
    assert summary["val_set"] == data.name  # validated on --data's val shards
    card = (tmp_path / "run" / "decoder_hog.md").read_text()
    assert f"plus other `{other}/train-*.tar.gz` resized to 64 px" in card
    assert "48 training images in all" in card
    assert f"--extra-train {other}/train-*.tar.gz" in card.replace("'", "")
