from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from preimage.errors import PreimageError
from preimage.inverters.decoders import Decoder, DecoderArch, build_decoder
from preimage.training.decoder import DecoderConfig, train_decoder
from tests.conftest import make_constant_decoder, make_tiny_dataset


@pytest.mark.parametrize(
    "shape", [(31, 8, 8), (58, 4, 4), (133, 16, 16), (64, 16, 16), (128, 8, 8), (128, 4, 4), (1024,), (200,)]
)
def test_every_code_shape_decodes_to_64x64(shape: tuple[int, ...]) -> None:
    net = build_decoder(shape, 64, width=8)
    out = net(torch.rand(2, *shape))
    assert out.shape == (2, 3, 64, 64)
    out.mean().backward()


def test_decoder_checks_its_input() -> None:
    dec = Decoder(DecoderArch("hog", (31, 8, 8), 64, 8)).eval()
    with pytest.raises(PreimageError, match=r"expects codes of shape \(31, 8, 8\)"):
        dec(torch.rand(1, 31, 4, 4))
    with pytest.raises(PreimageError, match="NaN"):
        dec(torch.full((1, 31, 8, 8), float("nan")))
    out = dec(torch.rand(3, 31, 8, 8))
    assert out.min() >= 0 and out.max() <= 1


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    make_tiny_dataset(root, n_per_class=16)
    return root


def test_training_lowers_the_error_and_exports(data: Path, tmp_path: Path) -> None:
    cfg = DecoderConfig(
        rep="hog", data=str(data), out=str(tmp_path / "run"), epochs=3, batch_size=16, width=8, limit_val=64, lr=3e-3
    )
    summary = train_decoder(cfg)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    errors = [float(r.split(",")[2]) for r in rows]
    assert errors[-1] < errors[0]
    dec = Decoder.from_file(tmp_path / "run" / "decoder_hog.safetensors")
    assert dec.code_shape == (31, 8, 8)
    assert load_file(str(tmp_path / "run" / "decoder_hog.safetensors"))["net.head.weight"].dtype == torch.float16
    assert 0 < summary["val"]["normalized_error"] < 1.5
    assert "Normalised reconstruction error" in (tmp_path / "run" / "decoder_hog.md").read_text()


def test_resume_matches_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    # on the CPU: GPU kernels (atomics, autotuned convolutions) are not bitwise reproducible
    base = {
        "rep": "hog",
        "data": str(data),
        "epochs": 2,
        "batch_size": 16,
        "width": 8,
        "limit_val": 32,
        "amp": "none",
        "device": "cpu",
    }
    train_decoder(DecoderConfig(out=str(tmp_path / "a"), **base))  # type: ignore[arg-type]
    train_decoder(DecoderConfig(out=str(tmp_path / "b"), stop_after_epochs=1, **base))  # type: ignore[arg-type]
    train_decoder(DecoderConfig(out=str(tmp_path / "b"), **base), resume=True)  # type: ignore[arg-type]
    a = load_file(str(tmp_path / "a" / "decoder_hog.safetensors"))
    b = load_file(str(tmp_path / "b" / "decoder_hog.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_mid_epoch_resume_logs_the_whole_epoch_and_records_its_threads(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv

    from preimage.training import decoder as decoder_module
    from preimage.training.common import load_checkpoint

    base = {"rep": "hog", "data": str(data), "epochs": 1, "batch_size": 16, "width": 8, "limit_val": 32}
    base |= {"amp": "none", "device": "cpu", "checkpoint_every_s": 0.0}  # a checkpoint after every step
    train_decoder(DecoderConfig(out=str(tmp_path / "a"), **base))  # type: ignore[arg-type]
    calls = {"n": 0}
    real = decoder_module.check_finite

    def killed_after_the_first_step(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # step 1's check, its checkpoint's check, then step 2: the process dies
            raise KeyboardInterrupt
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decoder_module, "check_finite", killed_after_the_first_step)
    with pytest.raises(KeyboardInterrupt):
        train_decoder(DecoderConfig(out=str(tmp_path / "b"), **base))  # type: ignore[arg-type]
    monkeypatch.setattr(decoder_module, "check_finite", real)
    ckpt = load_checkpoint(tmp_path / "b" / "checkpoint.pt")
    assert ckpt["step_in_epoch"] == 1 and ckpt["sums"]["seen"] == 16
    assert ckpt["config"]["threads"] == torch.get_num_threads()  # recorded, so --resume uses the same count
    train_decoder(DecoderConfig(out=str(tmp_path / "b"), **base), resume=True)  # type: ignore[arg-type]

    def logged(run: str) -> list[dict[str, str]]:
        with open(tmp_path / run / "metrics.csv") as fh:
            return list(csv.DictReader(fh))

    a, b = logged("a"), logged("b")
    assert len(b) == 1 and float(b[0]["train_mse"]) == pytest.approx(float(a[0]["train_mse"]), rel=1e-6)
    wa = load_file(str(tmp_path / "a" / "decoder_hog.safetensors"))
    wb = load_file(str(tmp_path / "b" / "decoder_hog.safetensors"))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_training_threads_are_fixed_not_load_dependent(monkeypatch: pytest.MonkeyPatch) -> None:
    from preimage import runtime
    from preimage.training.common import training_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setattr(runtime, "busy_cores", lambda *a, **k: 1)  # another process holds a core
        assert training_threads(None, None) == runtime.available_cores()
        assert training_threads(None, 1) == 1  # a resumed run keeps its own count
        with pytest.warns(UserWarning, match="started with 1 threads"):
            assert training_threads(2, 1) == 2
    finally:
        torch.set_num_threads(before)


def test_two_process_ddp_equals_one_process(data: Path, tmp_path: Path) -> None:
    common = [
        "--rep",
        "hog",
        "--data",
        str(data),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--width",
        "8",
        "--limit-train",
        "64",
        "--limit-val",
        "16",
        "--amp",
        "none",
        "--device",
        "cpu",  # two processes may share one machine's single GPU; gloo on the CPU runs anywhere
    ]
    one = subprocess.run(
        [sys.executable, "-m", "preimage.cli", "train-decoder", *common, "-o", str(tmp_path / "one")],
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "preimage.cli",
            "train-decoder",
            *common,
            "-o",
            str(tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
    )
    assert two.returncode == 0, two.stderr[-2000:]
    a = load_file(str(tmp_path / "one" / "decoder_hog.safetensors"))
    b = load_file(str(tmp_path / "two" / "decoder_hog.safetensors"))
    # fp16 export: equal up to a couple of half-precision ulps
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=2e-3, rtol=2e-3) for k in a)
    s1 = json.loads((tmp_path / "one" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert s1["val"]["normalized_error"] == pytest.approx(s2["val"]["normalized_error"], abs=1e-3)


def test_fp16_checkpoint_resumes(data: Path, tmp_path: Path) -> None:
    from preimage.training.common import shrink_checkpoint

    base = {"rep": "hog", "data": str(data), "epochs": 2, "batch_size": 16, "width": 8, "limit_val": 32}
    train_decoder(DecoderConfig(out=str(tmp_path / "a"), stop_after_epochs=1, **base))  # type: ignore[arg-type]
    (tmp_path / "b").mkdir()
    shrink_checkpoint(tmp_path / "a" / "checkpoint.pt", tmp_path / "b" / "checkpoint.pt")
    full = (tmp_path / "a" / "checkpoint.pt").stat().st_size
    assert (tmp_path / "b" / "checkpoint.pt").stat().st_size < 0.6 * full
    summary = train_decoder(DecoderConfig(out=str(tmp_path / "b"), **base), resume=True)  # type: ignore[arg-type]
    assert summary["epochs"] == 2 and summary["val"]["normalized_error"] < 1.5


def test_residual_trunk_decoder_round_trips_through_safetensors(tmp_path: Path) -> None:
    from preimage.training.common import export_safetensors

    dec = Decoder(DecoderArch("lbp", (58, 4, 4), 64, width=8, blocks=2, top=48)).eval()
    assert len(dec.net.blocks) == 2 and dec.net.stem[0][0].out_channels == 48
    path = export_safetensors(
        dec.state_dict(), tmp_path / "d.safetensors", fp16=False, metadata={"config": json.dumps(dec.config())}
    )
    again = Decoder.from_file(path)
    codes = torch.rand(2, 58, 4, 4)
    torch.testing.assert_close(again(codes), dec(codes))


def test_autoencoder_starts_from_the_decoder_and_ships_only_tuned_layers(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from preimage.inverters.decoders import load_autoencoder
    from preimage.models import create_model

    base = {"rep": "alexnet64:conv2", "data": str(data), "batch_size": 16, "width": 8, "limit_val": 16, "epochs": 1}
    train_decoder(DecoderConfig(out=str(tmp_path / "inv"), limit_train=32, **base))  # type: ignore[arg-type]
    init = tmp_path / "inv" / "decoder_alexnet64_conv2.safetensors"
    assert "of which the first 32 images" in (tmp_path / "inv" / "decoder_alexnet64_conv2.md").read_text()
    with pytest.raises(PreimageError, match="`init_decoder`"):
        train_decoder(DecoderConfig(out=str(tmp_path / "bad"), init_decoder=str(init), **{**base, "width": 4}))  # type: ignore[arg-type]
    train_decoder(
        DecoderConfig(out=str(tmp_path / "ae"), finetune_encoder=True, init_decoder=str(init), limit_train=64, **base)  # type: ignore[arg-type]
    )
    encoder = load_file(str(tmp_path / "ae" / "encoder_alexnet64_conv2_autoencoder.safetensors"))
    shipped = create_model("alexnet64", weights="default").state_dict()
    # conv1 and conv2 were tuned and shipped; nothing past the tap (conv3.., fc6..) was
    assert set(encoder) and all(k.startswith("features.") for k in encoder)
    assert len(encoder) < len(shipped) and any(
        not torch.equal(encoder[k].float(), shipped[k].half().float()) for k in encoder
    )
    import preimage.zoo as zoo_module

    for f in zoo_module.ZOO_DIR.glob("alexnet64*"):  # the base network, whose untuned layers the autoencoder reuses
        (tmp_path / "ae" / f.name).symlink_to(f)
    monkeypatch.setattr(zoo_module, "ZOO_DIR", tmp_path / "ae")
    (tmp_path / "ae" / "decoder_alexnet64_conv2.safetensors").write_bytes(init.read_bytes())
    zoo_module.write_manifest(tmp_path / "ae")
    tap, dec = load_autoencoder("alexnet64:conv2")
    out = dec(tap(torch.rand(2, 3, 64, 64)))
    assert out.shape == (2, 3, 64, 64)


def test_fast_inference_matches_fp32() -> None:
    """bf16 + channels-last inference (where the CPU has native bf16) stays within ~1/255 of fp32."""
    dec = Decoder.from_pretrained("hog")
    codes = torch.rand(16, 31, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        dec.precision = "bf16"
        fast = dec(codes)
        dec.precision = "fp32"
        exact = dec(codes)
    assert fast.shape == exact.shape == (16, 3, 64, 64)
    assert (fast - exact).abs().mean() < 3e-3 and (fast - exact).abs().max() < 0.05
    dec.precision = "half"
    with pytest.raises(PreimageError, match="precision"), torch.no_grad():
        dec(codes)


def test_bf16_inference_is_autocast_and_follows_weight_changes() -> None:
    """The cached bf16 copy computes what bf16 autocast over the fp32 weights does, and never goes stale.

    The two differ only in where bf16 results are rounded (oneDNN's native bf16 kernels and the emulated ones
    on CPUs without AVX512-BF16 round differently), so they agree to one bf16 rounding step of an output in
    [0, 1]: bf16 keeps 8 significant bits, its spacing just below 1 is 2^-8. A stale copy misses a change of
    0.1 in the last bias, 25x that tolerance, so every comparison below can fail.
    """
    torch.manual_seed(0)
    dec = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8, stage_blocks=1)).eval()
    dec.precision = "bf16"
    codes = torch.rand(4, 31, 8, 8)
    one_step = 2.0**-8

    def reference() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return dec.net(codes).float().clamp(0, 1)

    def assert_matches() -> None:
        torch.testing.assert_close(dec(codes), reference(), atol=one_step, rtol=0)

    with torch.no_grad():
        assert_matches()
        before = dec(codes)
        dec.net.head.bias += 0.1  # an in-place update, as an optimiser step makes
        assert (dec(codes) - before).abs().max() > 10 * one_step  # the change is visible above the tolerance
        assert_matches()
        other = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8, stage_blocks=1))
        dec.load_state_dict(other.state_dict())
        assert_matches()
        dec.net.head.bias.data += 0.1  # bumps no version: refresh() is the documented way
        dec.refresh()
        assert_matches()
    assert not any("bf16" in k for k in dec.state_dict())  # the copy is not part of the weights


def test_growing_stage_blocks_preserves_the_function_then_trains(tmp_path: Path) -> None:
    """A decoder grown with stage blocks computes exactly what the trained one did, before any step."""
    from preimage.training.decoder import grow_from

    torch.manual_seed(0)
    small = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8)).eval()
    for p in small.parameters():  # not the initial weights: any trained function must survive growth
        p.data.normal_(0, 0.05)
    grown = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8, stage_blocks=2)).eval()
    grow_from(grown, small, "small")
    # one block pair at 16x16 and at 32x32, none at the 64x64 output stage
    assert [len(s) for s in grown.net.stage_blocks] == [2, 2, 0]
    codes = torch.rand(3, 31, 8, 8)
    small.precision = grown.precision = "fp32"
    with torch.no_grad():
        torch.testing.assert_close(grown(codes), small(codes), atol=1e-6, rtol=0)
    # the new blocks do learn: their zero-initialised convolution gets a gradient
    grown.train()
    grown(codes).square().mean().backward()
    assert grown.net.stage_blocks[0][0].body[1].weight.grad.abs().sum() > 0
    with pytest.raises(PreimageError, match="may differ"):
        grow_from(Decoder(DecoderArch("hog", (31, 8, 8), 64, width=16)), grown, "grown")


def test_ema_is_the_exponential_average_of_the_weights() -> None:
    from preimage.representations import create_representation
    from preimage.training.decoder import Pipeline

    dec = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=4))
    pipe = Pipeline(create_representation("hog"), dec, finetune=False, amp=False, ema=0.9)
    assert pipe.ema is not None and not any(p.requires_grad for p in pipe.ema.parameters())
    before = [p.detach().clone() for p in dec.parameters()]
    steps = []
    for _ in range(2):
        for p in dec.parameters():
            p.data.add_(torch.randn_like(p))
        steps.append([p.detach().clone() for p in dec.parameters()])
        pipe.update_ema()
    # hand-computed: a <- 0.9 a + 0.1 w, twice, from the starting weights
    for b, w1, w2, avg in zip(before, steps[0], steps[1], pipe.ema.parameters(), strict=True):
        torch.testing.assert_close(avg, 0.9 * (0.9 * b + 0.1 * w1) + 0.1 * w2)
    assert pipe.shipped_decoder() is pipe.ema
    assert "ema.net.head.weight" in pipe.state_dict()  # checkpoints carry the average


@pytest.mark.parametrize(("rep", "shape"), [("hog", (31, 8, 8)), ("lbp", (58, 4, 4))])
def test_flip_averaging_is_mirror_symmetric(rep: str, shape: tuple[int, int, int]) -> None:
    """Flip-averaged decoding of a mirrored code is the mirrored decoding (a plain decoder is not)."""
    from preimage.representations.hog import flip_hog_code
    from preimage.representations.lbp import flip_lbp_code

    flip = flip_hog_code if rep == "hog" else flip_lbp_code
    torch.manual_seed(0)
    dec = Decoder(DecoderArch(rep, shape, 64, width=8)).eval()
    for p in dec.parameters():
        p.data.normal_(0, 0.05)
    dec.precision = "fp32"
    codes = torch.rand(2, *shape) * 0.3
    with torch.no_grad():
        plain = dec(codes)
        dec.flip_average = True
        averaged = dec(codes)
        torch.testing.assert_close(dec(flip(codes)), averaged.flip(-1), atol=1e-6, rtol=0)
        mirrored = dec._decode(flip(codes)).flip(-1)
    torch.testing.assert_close(averaged, (plain + mirrored) / 2)
    assert (plain - averaged).abs().max() > 1e-3
    lbp15 = Decoder(
        DecoderArch("lbp@15", (58, 4, 4), 64, width=8)
    ).eval()  # 15-px cells do not tile 64 px: no exact mirror
    lbp15.flip_average = True
    with pytest.raises(PreimageError, match="mirror exactly only when its 15-px cells tile the image"), torch.no_grad():
        lbp15(torch.rand(1, 58, 4, 4))
    sift = Decoder(DecoderArch("sift", (133, 16, 16), 64, width=8)).eval()  # keypoint detection is not mirror-exact
    sift.flip_average = True
    with pytest.raises(PreimageError, match="mirror its code"), torch.no_grad():
        sift(torch.rand(1, 133, 16, 16))


def test_device_names_resolve_or_fail_in_one_line() -> None:
    from preimage.training.decoder import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(PreimageError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(PreimageError, match="no CUDA GPU — use `device=cpu`"):
            resolve_device("cuda")


def test_distillation_trains_towards_the_teachers_not_the_images(data: Path, tmp_path: Path) -> None:
    # two teachers that paint constant 0.1 and 0.3 images: the student's target is their mean, 0.2 everywhere,
    # far from the images (mean ~0.5); trained on images it would not go there
    make_constant_decoder(tmp_path / "t1.safetensors", "hog", (31, 8, 8), 0.1)
    make_constant_decoder(tmp_path / "t2.safetensors", "hog", (31, 8, 8), 0.3)
    cfg = DecoderConfig(
        rep="hog",
        data=str(data),
        out=str(tmp_path / "run"),
        epochs=4,
        batch_size=8,
        width=8,
        limit_val=32,
        lr=1e-2,
        amp="none",
        warmup_steps=2,
        teachers=(str(tmp_path / "t1.safetensors"), str(tmp_path / "t2.safetensors")),
    )
    train_decoder(cfg)
    student = Decoder.from_file(tmp_path / "run" / "decoder_hog.safetensors")
    x = torch.rand(8, 3, 64, 64)
    from preimage.representations import create_representation

    with torch.no_grad():
        out = student(create_representation("hog")(x))
    assert abs(float(out.mean()) - 0.2) < 0.05, float(out.mean())
    assert "Distilled" in (tmp_path / "run" / "decoder_hog.md").read_text()


def test_a_teacher_for_another_representation_is_a_one_line_error(data: Path, tmp_path: Path) -> None:
    make_constant_decoder(tmp_path / "lbp.safetensors", "lbp", (58, 4, 4), 0.5)
    teacher = str(tmp_path / "lbp.safetensors")
    cfg = DecoderConfig(rep="hog", data=str(data), out=str(tmp_path / "run"), epochs=1, width=8, teachers=(teacher,))
    with pytest.raises(PreimageError, match=r"`teachers` .* inverts lbp codes"):
        train_decoder(cfg)
    flip = DecoderConfig(rep="hog", data=str(data), out=str(tmp_path / "run"), teacher_flip_average=True)
    with pytest.raises(PreimageError, match="needs at least one of `teachers`"):
        train_decoder(flip)
    sift = DecoderConfig(
        rep="sift", data=str(data), out=str(tmp_path / "run"), teachers=(teacher,), teacher_flip_average=True
    )
    with pytest.raises(PreimageError, match="mirror its code"):
        train_decoder(sift)


def test_a_cheaper_student_starts_from_the_trained_trunk() -> None:
    """``--init-decoder`` into a decoder with a sub-pixel head copies every tensor of matching name and shape."""
    from preimage.training.decoder import grow_from

    torch.manual_seed(0)
    trained = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8, stage_blocks=2)).eval()
    for p in trained.parameters():
        p.data.normal_(0, 0.05)
    student = Decoder(DecoderArch("hog", (31, 8, 8), 64, width=8, stage_blocks=1, shuffle=4)).eval()
    copied = grow_from(student, trained, "trained")
    theirs = trained.state_dict()
    same = [k for k, v in student.state_dict().items() if k in theirs and torch.equal(v, theirs[k])]
    assert copied == len(same) and len(same) == len(student.state_dict()) - 2  # all but the new head
    # so the student's 16x16 features are the trained decoder's, up to its first stage block
    feats = []
    for net in (trained.net, student.net):
        net.stage_blocks[0][0].register_forward_hook(lambda m, i, o: feats.append(o))
    codes = torch.rand(2, 31, 8, 8)
    with torch.no_grad():
        trained.net(codes), student.net(codes)
    torch.testing.assert_close(feats[0], feats[1], atol=0, rtol=0)
    with pytest.raises(PreimageError, match="`width`"):
        grow_from(Decoder(DecoderArch("hog", (31, 8, 8), 64, width=16)), trained, "trained")


def test_a_cell_size_variant_trains_and_is_told_apart_from_the_default(data: Path, tmp_path: Path) -> None:
    from preimage.evaluation import evaluate_inverter
    from preimage.representations import create_representation

    cfg = DecoderConfig(rep="lbp@4", data=str(data), out=str(tmp_path / "run"), epochs=1, batch_size=16, width=8)
    cfg.limit_val = 32
    train_decoder(cfg)
    path = tmp_path / "run" / "decoder_lbp@4.safetensors"
    dec = Decoder.from_file(path)
    assert (dec.rep, dec.code_shape) == ("lbp@4", (58, 16, 16))  # 16 cells a side, not the default's 4
    val = str(data / "val-0000.tar.gz")
    result = evaluate_inverter(create_representation("lbp@4"), "decoder", val, limit=8, weights=str(path))
    assert 0 < result["normalized_error"] < 1.5
    with pytest.raises(PreimageError, match="lbp@4") as err:
        evaluate_inverter(create_representation("lbp"), "decoder", val, limit=8, weights=str(path))
    assert "\n" not in str(err.value)


def test_crop_pad_zero_trains_on_the_images_as_framed_only_flipped(data: Path, tmp_path: Path) -> None:
    from preimage.training.decoder import Batches

    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    order = torch.arange(32)
    plain = images.float() / 255
    for pad, framed in ((0, 32), (4, None)):
        x, _, _ = Batches(images, order, 32, 0, 0, 0, 1, None, crop_pad=pad)[0]
        as_is = (x == plain).flatten(1).all(1) | (x == plain.flip(-1)).flatten(1).all(1)
        if framed is None:
            assert int(as_is.sum()) < 8  # a pad-4 crop keeps the framing for 1 image in 81
        else:
            assert int(as_is.sum()) == framed
            assert 0 < int((x == plain.flip(-1)).flatten(1).all(1).sum()) < 32  # still flipped at random
    cfg = DecoderConfig(rep="hog", data=str(data), out=str(tmp_path / "run"), epochs=1, width=8, crop_pad=0)
    cfg.limit_val = 32
    train_decoder(cfg)
    card = (tmp_path / "run" / "decoder_hog.md").read_text()
    assert "flips (no crops)" in card and "--crop-pad 0" in card
    bad = DecoderConfig(rep="hog", data=str(data), out=str(tmp_path / "run"), crop_pad=64)
    with pytest.raises(PreimageError, match=r"`crop_pad=64` must be in \[0, 63\]"):
        train_decoder(bad)


def test_a_bilinear_decoder_trains_exports_and_says_so_on_its_card(data: Path, tmp_path: Path) -> None:
    cfg = DecoderConfig(
        rep="hog", data=str(data), out=str(tmp_path / "run"), epochs=1, width=8, limit_val=32, upsample="bilinear"
    )
    train_decoder(cfg)
    dec = Decoder.from_file(tmp_path / "run" / "decoder_hog.safetensors")
    assert dec.arch.upsample == "bilinear"
    card = (tmp_path / "run" / "decoder_hog.md").read_text()
    assert "bilinear resize-convolutions" in card and "--upsample bilinear" in card
    # its weights cannot seed an up-convolution decoder: the expansion layers differ
    other = DecoderConfig(
        rep="hog",
        data=str(data),
        out=str(tmp_path / "run2"),
        epochs=1,
        width=8,
        limit_val=32,
        init_decoder=str(tmp_path / "run" / "decoder_hog.safetensors"),
    )
    with pytest.raises(PreimageError, match="'upsample': 'bilinear'"):
        train_decoder(other)
