"""DeePSiM: the loss terms against hand computations, the alternating update, the pause, and a tiny run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from preimage.errors import PreimageError
from preimage.inverters.decoders import Decoder
from preimage.representations.cnn import LayerTap
from preimage.training.deepsim import (
    DeepsimConfig,
    DeepsimObjective,
    Discriminator,
    deepsim_step,
    parse_weights,
    texture_error,
)
from tests.conftest import make_constant_decoder, make_tiny_dataset


class _Features(nn.Module):
    """A stand-in comparator: 2x2 average pooling (linear, so its loss is hand-computable)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(x, 2)


def _objective(**kw: float) -> DeepsimObjective:
    torch.manual_seed(0)
    return DeepsimObjective(_Features(), DeepsimConfig(**kw))  # type: ignore[arg-type]


def test_weights_parse_and_bad_ones_are_refused() -> None:
    assert parse_weights("33,100,0.13") == (33.0, 100.0, 0.13, 0.0)
    assert parse_weights("10,100,1.3,20") == (10.0, 100.0, 1.3, 20.0)
    for bad in ("1,2", "a,b,c", "-1,1,1", "0,0,0", "1,1,1,1,1", "1,1,1,nan", "1,1,1,-2"):
        with pytest.raises(PreimageError, match="FEAT,ADV,IMG"):
            parse_weights(bad)


def test_each_term_is_caffes_halved_squared_sum_per_image() -> None:
    real, fake = torch.zeros(2, 3, 16, 16), torch.full((2, 3, 16, 16), 0.5)
    only_img = _objective(feat=0.0, adv=0.0, img=1.0)
    total, parts = only_img.generator_loss(fake, real, None)
    assert float(total) == pytest.approx(0.5 * 768 * 0.25)  # 768 values of 0.5^2, halved
    only_feat = _objective(feat=1.0, adv=0.0, img=0.0)
    total, _ = only_feat.generator_loss(fake, real, None)
    assert float(total) == pytest.approx(0.5 * 192 * 0.25)  # the pooled maps: 3 x 8 x 8 values
    assert parts["adv"] == pytest.approx(float(nn.functional.softplus(-only_img._d(fake, None)).mean()), rel=1e-5)


def test_the_lowpass_term_weighs_coarse_error_only() -> None:
    real = torch.zeros(2, 3, 16, 16)
    only_low = _objective(feat=0.0, adv=0.0, img=0.0, low=1.0)
    # a constant offset costs what the pixel term charges: 768 values of 0.5^2, halved
    total, parts = only_low.generator_loss(torch.full((2, 3, 16, 16), 0.5), real, None)
    assert float(total) == pytest.approx(0.5 * 768 * 0.25) and parts["low"] == pytest.approx(float(total))
    # a +-1 checkerboard blurs away (its response at sigma 2 is exp(-2 pi^2 sigma^2 / 4) ~ 3e-9)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1.0
    total, _ = only_low.generator_loss(checker.expand(2, 3, 16, 16), real, None)
    assert float(total) < 1e-3
    assert "low" not in _objective(low=0.0).generator_loss(checker.expand(2, 3, 16, 16), real, None)[1]


def _red_green_tap() -> LayerTap:
    """A 1x1 convolution that copies the red and green channels: its Gram matrix is hand-computable."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3)[:2].view(2, 3, 1, 1))
    return LayerTap(nn.Sequential(conv), ["0"])


def test_the_texture_term_compares_gram_matrices_wherever_the_detail_lies() -> None:
    tap = _red_green_tap()
    # constant images a and b: every Gram entry is a^2 (resp. b^2), so the term is 4 (a^2 - b^2)^2 / 2
    fake, real = torch.full((2, 3, 8, 8), 0.5), torch.full((2, 3, 8, 8), 0.25)
    assert float(texture_error(tap, fake, real)) == pytest.approx(2 * (0.25 - 0.0625) ** 2)
    # the same pixels elsewhere (mirrored, rolled) keep the statistics; a blur changes them
    photo = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    assert float(texture_error(tap, photo.flip(-1).roll(3, -2), photo)) < 1e-10
    blurred = nn.functional.avg_pool2d(photo, 3, 1, 1, count_include_pad=False)
    assert float(texture_error(tap, blurred, photo)) > 1e-4


def test_the_texture_term_needs_a_network_comparator() -> None:
    with pytest.raises(PreimageError, match="texture term needs a network comparator"):
        _objective(texture=1.0)


def test_an_anchor_replaces_the_photo_in_the_pixel_terms_only() -> None:
    real, fake = torch.zeros(2, 3, 16, 16), torch.full((2, 3, 16, 16), 0.5)
    objective = _objective(feat=1.0, adv=0.0, img=1.0, low=1.0)
    _, photo_parts = objective.generator_loss(fake, real, None)
    _, parts = objective.generator_loss(fake, real, None, anchor=fake.clone())
    assert parts["img"] == 0.0 and parts["low"] == 0.0  # the pixel terms see the anchor ...
    assert parts["feat"] == pytest.approx(0.5 * 192 * 0.25) == photo_parts["feat"]  # ... the comparator the photo
    assert photo_parts["img"] == pytest.approx(0.5 * 768 * 0.25)


def test_a_step_trains_both_players_and_the_pause_holds_the_discriminator() -> None:
    generator = nn.Conv2d(3, 3, 1)
    real = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    for pause, moves in ((0.0, True), (1e9, False)):
        objective = _objective(pause_ratio=pause)
        opt = torch.optim.Adam([*generator.parameters(), *objective.discriminator.parameters()], lr=1e-2)
        d_before = [p.detach().clone() for p in objective.discriminator.parameters()]
        g_before = [p.detach().clone() for p in generator.parameters()]
        mse, parts = deepsim_step(objective, opt, generator(real), real, None)
        d_moved = any(
            not torch.equal(a, b) for a, b in zip(d_before, objective.discriminator.parameters(), strict=True)
        )
        assert d_moved is moves and parts["d_updated"] == float(moves)
        assert any(not torch.equal(a, b) for a, b in zip(g_before, generator.parameters(), strict=True))
        assert float(mse) >= 0 and all(p.requires_grad for p in objective.discriminator.parameters())


class _LinearCritic(nn.Module):
    """A discriminator whose gradient at any image is its weight: the R1 penalty is r1 / 2 * ||w||^2."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linspace(-1, 1, 3 * 16 * 16))

    def forward(self, images: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        return images.flatten(1) @ self.weight


def test_the_r1_penalty_is_half_the_squared_gradient_at_the_photos_and_reported_apart() -> None:
    real, fake = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    objective = _objective(r1=3.0)
    objective.discriminator = _LinearCritic()
    bce, r1 = objective.discriminator_loss(fake, real, None)
    w = objective.discriminator.weight.detach()
    assert float(r1) == pytest.approx(3.0 / 2 * float(w.pow(2).sum()), rel=1e-5)
    # its gradient on the weight is r1 * w (d/dw of r1/2 ||w||^2), added to the cross-entropy's
    (grad_w,) = torch.autograd.grad(r1, objective.discriminator.weight)
    assert torch.allclose(grad_w, 3.0 * w, rtol=1e-5)
    assert float(_objective(r1=0.0).discriminator_loss(fake, real, None)[1]) == 0.0
    opt = torch.optim.SGD(objective.discriminator.parameters(), lr=0.0)
    _, parts = deepsim_step(objective, opt, fake.requires_grad_(), real, None)
    assert parts["r1"] == pytest.approx(float(r1), rel=1e-5) and parts["d"] == pytest.approx(float(bce), rel=1e-5)


class _LinearPatchCritic(nn.Module):
    """Four patch logits, each a linear function of the image: R1 sees their per-image mean, whose gradient is the
    mean of the four weights."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 3 * 16 * 16, generator=torch.Generator().manual_seed(0)))

    def forward(self, images: torch.Tensor, codes: torch.Tensor | None = None) -> torch.Tensor:
        return (images.flatten(1) @ self.weight.T).view(-1, 2, 2)


def test_r1_of_a_patch_critic_is_taken_on_its_mean_logit_per_image() -> None:
    real, fake = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    objective = _objective(r1=2.0)
    objective.discriminator = _LinearPatchCritic()
    _, r1 = objective.discriminator_loss(fake, real, None)
    mean_w = objective.discriminator.weight.detach().mean(0)
    assert float(r1) == pytest.approx(2.0 / 2 * float(mean_w.pow(2).sum()), rel=1e-5)


def test_a_patch_discriminator_judges_each_22px_patch_alone() -> None:
    # three 4x4 convolutions of stride 2 and padding 1: logit i sees input rows 8i - 7 ... 8i + 14
    d = Discriminator(width=4, patch=True)
    images = torch.rand(1, 3, 48, 48, requires_grad=True)
    logits = d(images)
    assert logits.shape == (1, 6, 6)
    for i, j in [(0, 0), (2, 3), (5, 5)]:
        (grad,) = torch.autograd.grad(logits[0, i, j], images, retain_graph=True)
        rows = grad.abs().sum((0, 1, 3)).nonzero().flatten()
        cols = grad.abs().sum((0, 1, 2)).nonzero().flatten()
        assert (int(rows[0]), int(rows[-1])) == (max(8 * i - 7, 0), min(8 * i + 14, 47))
        assert (int(cols[0]), int(cols[-1])) == (max(8 * j - 7, 0), min(8 * j + 14, 47))
    conditional = Discriminator(width=4, code_features=5, patch=True)
    assert conditional(images, torch.rand(1, 5)).shape == (1, 6, 6)


def test_a_conditional_discriminator_reads_the_code() -> None:
    d = Discriminator(width=8, code_features=12)
    images = torch.rand(2, 3, 32, 32)
    assert d(images, torch.rand(2, 3, 2, 2)).shape == (2,)
    with pytest.raises(PreimageError, match="needs the codes"):
        d(images)


def test_train_decoder_with_deepsim_exports_the_sharp_variant(tmp_path: Path) -> None:
    from preimage.training.decoder import DecoderConfig, train_decoder

    make_tiny_dataset(tmp_path, n_per_class=8)
    base = {"rep": "hog", "data": str(tmp_path), "epochs": 1, "batch_size": 16, "width": 4, "limit_val": 8}
    cfg = DecoderConfig(out=str(tmp_path / "run"), loss="deepsim", amp="none", device="cpu", **base)  # type: ignore[arg-type]
    summary = train_decoder(cfg)
    weights = tmp_path / "run" / "decoder_hog.sharp.safetensors"
    assert Decoder.from_file(weights).rep == "hog" and summary["epochs"] == 1
    card = (tmp_path / "run" / "decoder_hog.sharp.md").read_text()
    assert "DeePSiM" in card and "a sharp, natural-looking pre-image" in card and "E[x | Phi(x)]" not in card
    assert "1 epoch," in card and "(alexnet64:conv5)" in card and "R1" not in card
    options = {
        "deepsim_comparator": "alexnet64:conv3",
        "deepsim_r1": 2.0,
        "deepsim_discriminator": "patch",
        "deepsim_texture": 0.5,
    }
    train_decoder(DecoderConfig(out=str(tmp_path / "r1"), loss="deepsim", amp="none", **options, **base))  # type: ignore[arg-type]
    card = (tmp_path / "r1" / "decoder_hog.sharp.md").read_text()
    assert "(alexnet64:conv3)" in card and "R1 penalty 2 on its gradient at the photos" in card
    assert "unconditional patch discriminator" in card and "0.5 x Gram matrices of alexnet64 conv1 and conv2" in card
    with pytest.raises(PreimageError, match="add `loss=deepsim`"):
        train_decoder(DecoderConfig(out=str(tmp_path / "r3"), deepsim_r1=1.0, **base))  # type: ignore[arg-type]
    with pytest.raises(PreimageError, match="add `loss=deepsim`"):
        train_decoder(DecoderConfig(out=str(tmp_path / "r4"), deepsim_discriminator="patch", **base))  # type: ignore[arg-type]
    with pytest.raises(PreimageError, match="use one of global, patch"):
        train_decoder(DecoderConfig(out=str(tmp_path / "r5"), loss="deepsim", deepsim_discriminator="pach", **base))  # type: ignore[arg-type]
    with pytest.raises(PreimageError, match="one process"):
        train_decoder(DecoderConfig(out=str(tmp_path / "r2"), loss="deepsim", shift_cells=1, crop_pad=0, **base))  # type: ignore[arg-type]


def test_an_anchored_deepsim_run_pulls_its_pixels_to_the_teacher(tmp_path: Path) -> None:
    from preimage.representations import create_representation
    from preimage.training.decoder import DecoderConfig, train_decoder

    # a teacher painting 0.2 everywhere, far from the photos (mean ~0.5): with only the pixel terms weighted,
    # an anchored student goes there; the images would pull it elsewhere
    make_tiny_dataset(tmp_path, n_per_class=8)
    make_constant_decoder(tmp_path / "t.safetensors", "hog", (31, 8, 8), 0.2)
    cfg = DecoderConfig(
        rep="hog", data=str(tmp_path), out=str(tmp_path / "run"), epochs=4, batch_size=8, width=8, limit_val=8,
        lr=1e-2, amp="none", device="cpu", warmup_steps=2, loss="deepsim", deepsim_weights="0,0,1,1",
        teachers=(str(tmp_path / "t.safetensors"),),
    )  # fmt: skip
    train_decoder(cfg)
    student = Decoder.from_file(tmp_path / "run" / "decoder_hog.sharp.safetensors")
    with torch.no_grad():
        out = student(create_representation("hog")(torch.rand(8, 3, 64, 64)))
    assert abs(float(out.mean()) - 0.2) < 0.05, float(out.mean())
    card = (tmp_path / "run" / "decoder_hog.sharp.md").read_text()
    assert "**Anchored**" in card and "Distilled" not in card
    assert "1 x pixels blurred by a Gaussian of sigma 2 px" in card
