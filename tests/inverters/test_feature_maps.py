from __future__ import annotations

import pytest
import torch

from preimage.errors import PreimageError
from preimage.inverters.codes import channel_energy
from preimage.inverters.feature_maps import StatisticEncoder, gram_distance, gram_matrix, mean_energy
from preimage.representations import create_representation


def test_gram_matrix_by_hand() -> None:
    maps = torch.tensor([[[[1.0, 2.0]], [[0.0, 3.0]]]])  # 2 channels, 1x2 pixels
    expected = torch.tensor([[[1 + 4, 0 + 6], [0 + 6, 0 + 9]]]) / 2
    assert torch.equal(gram_matrix(maps), expected)
    # the Gram diagonal is the per-channel mean squared activation
    assert torch.allclose(torch.diagonal(gram_matrix(maps), dim1=1, dim2=2), (maps**2).mean((2, 3)))
    assert torch.equal(mean_energy(maps), torch.tensor([[1.5, 1.5]]))
    with pytest.raises(PreimageError, match="feature maps"):
        gram_matrix(torch.rand(2, 3))


def test_statistic_encoder_weighs_layers_equally() -> None:
    torch.manual_seed(0)
    tap = create_representation("alexnet64:conv1,conv2", weights=None)
    ref = torch.rand(1, 3, 32, 32)
    enc = StatisticEncoder(tap, {"conv1": "gram", "conv2": "energy"}, ref)
    out = enc(ref)
    n1 = 64 * 64
    assert out.shape == (1, n1 + 128)
    assert out[0, :n1].norm().item() == pytest.approx(1.0, rel=1e-4)
    assert out[0, n1:].norm().item() == pytest.approx(1.0, rel=1e-4)


def test_gram_distance_is_zero_for_the_reference() -> None:
    tap = create_representation("alexnet64:conv1", weights=None)
    ref = torch.rand(1, 3, 32, 32)
    other = torch.rand(2, 3, 32, 32)
    d = gram_distance(tap, torch.cat([ref, other]), ref, ["conv1", "conv2"])
    assert d[0].item() == pytest.approx(0.0, abs=1e-6) and (d[1:] > 0).all()


@pytest.fixture(scope="module")
def chelsea() -> torch.Tensor:
    from preimage.data import iter_images

    return next(iter_images(["samples:chelsea"], size=64, fit="center")).image


@pytest.mark.parametrize("layer", ["conv1", "conv2", "conv3", "conv4", "conv5"])
def test_default_textures_are_textures_on_every_shipped_layer(layer: str, chelsea: torch.Tensor) -> None:
    # the defaults of filter_textures, on the shipped alexnet64: the two most energetic channels (always
    # active) and the weakest one, which is zero on the image
    from preimage.inverters.feature_maps import INACTIVE, filter_textures
    from preimage.representations.cnn import create_cnn_representation

    tap = create_cnn_representation(f"alexnet64:{layer}", weights="default")
    weakest = int(channel_energy(tap(chelsea[None]))[0].argmin())
    tex = filter_textures(tap, chelsea, k=2, steps=80)  # the defaults, with a smaller steps budget
    assert len(tex.channels) == 2 and all(tex.active)
    assert tex.energy[0] >= tex.energy[1] > 0
    for i in range(2):
        assert tex.feature_error[i] < 0.9, (layer, tex.channels[i], tex.feature_error[i])
        assert float(tex.images[i].std()) > 0.03
    dead = filter_textures(tap, chelsea, [weakest], steps=1)
    # a dead channel is reported, not drawn as a flat grey tile
    assert not dead.active[0] and dead.status(0) == INACTIVE and dead.rows()[0]["status"] == INACTIVE
    assert float(dead.images[0].std()) > 0.1


def test_purposeful_direct_reassigns_maps_by_rank_by_hand() -> None:
    from preimage.inverters.codes import reallocate_by_rank

    content = torch.tensor([[[[1.0, 3.0]], [[5.0, 5.0]], [[0.0, 2.0]]]])  # energies 4, 10, 2
    style = torch.tensor([[[[9.0, 9.0]], [[1.0, 0.0]], [[2.0, 2.0]]]])  # energies 18, 1, 4
    out = reallocate_by_rank(content, style)
    # rank order: content (2, 0, 1) -> style (1, 2, 0): style ch1 <- content ch2, ch2 <- ch0, ch0 <- ch1;
    # then each map's mean becomes the style map's mean (9, 0.5, 2)
    want = torch.tensor([[[[9.0, 9.0]], [[-0.5, 1.5]], [[1.0, 3.0]]]])
    assert torch.equal(out, want)


def test_xia_rates_are_normal_3_1000_over_their_sum() -> None:
    import numpy as np

    from preimage.inverters.codes import reallocate_random, xia_rates

    rng = np.random.default_rng(0)
    r = xia_rates(64, rng)
    raw = np.random.default_rng(0).normal(3.0, 1e3, size=64)  # the first draw, by numpy directly
    assert np.allclose(r, raw / raw.sum()) and r.sum() == pytest.approx(1.0)
    draws = np.random.default_rng(1).normal(3.0, 1e3, size=(2000, 64))
    assert draws.std() == pytest.approx(1000, rel=0.02)  # numpy's scale is the standard deviation

    # a near-zero sum is drawn again: force one with a generator whose first draw sums to ~0
    class Stub(np.random.Generator):
        calls = 0

        def normal(self, loc: float, scale: float, size: int) -> np.ndarray:  # type: ignore[override]
            Stub.calls += 1
            return np.array([500.0, -500.0, 1e-3]) if Stub.calls == 1 else np.array([1.0, 2.0, 1.0])

    out = xia_rates(3, Stub(np.random.PCG64(0)))
    assert Stub.calls == 2 and np.allclose(out, [0.25, 0.5, 0.25])
    code = torch.rand(1, 5, 3, 3)
    code[0, 2] = 0  # a dead map gets no share
    new = reallocate_random(code, 0, rates="xia")
    assert channel_energy(new).sum().item() == pytest.approx(channel_energy(code).sum().item(), rel=1e-4)
    assert channel_energy(new)[0, 2] == 0


def test_xia_recipe_textures_take_the_same_keywords(chelsea: torch.Tensor) -> None:
    from preimage.inverters.feature_maps import filter_textures
    from preimage.representations.cnn import create_cnn_representation

    tap = create_cnn_representation("alexnet64:conv1", weights="default")
    tex = filter_textures(tap, chelsea, k=2, recipe="xia", steps=5, progress=False)
    assert tex.recipe == "xia" and all(1 <= s <= 5 for s in tex.steps)
    with pytest.raises(PreimageError, match="unknown recipe"):
        filter_textures(tap, chelsea, k=1, recipe="gatys")


@pytest.mark.parametrize("layer", ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
def test_default_textures_on_shipped_vgg19_64_are_never_flat(layer: str, chelsea: torch.Tensor) -> None:
    # vgg19_64: the official target puts the sum of all 32-256 maps into the kept channel, 5-23x more than
    # any [0, 1] image drives one filter to, so the relative feature error stays 0.88-0.98 however long it
    # runs (docs/feature_maps.md); what the defaults must give is a texture that moved the features (error
    # below the 1.0 of a blank image) and is not flat (the official recipe's grey ends at std ~0.03)
    from preimage.inverters.feature_maps import filter_textures
    from preimage.representations.cnn import create_cnn_representation

    tap = create_cnn_representation(f"vgg19_64:{layer}", weights="default")
    tex = filter_textures(tap, chelsea, k=2, steps=80)
    assert all(tex.active)
    for i in range(2):
        assert tex.feature_error[i] < 0.99, (layer, tex.channels[i], tex.feature_error[i])
        assert float(tex.images[i].std()) > 0.1, (layer, tex.channels[i])


@pytest.fixture(scope="module")
def xia_textures_by_depth(chelsea: torch.Tensor) -> dict[str, object]:
    from preimage.experiments.feature_maps import recipe_config
    from preimage.inverters.feature_maps import filter_textures
    from preimage.representations.cnn import create_cnn_representation

    out: dict[str, object] = {}
    net = None
    for layer in ("relu1_1", "relu3_1", "relu5_1"):
        tap = create_cnn_representation(f"vgg19_64:{layer}", weights="default", model=net)
        net = tap.model
        out[layer] = filter_textures(tap, chelsea, None, recipe_config("xia", False, 0), recipe="xia", k=2)
        out[f"{layer} literal"] = filter_textures(
            tap, chelsea, None, recipe_config("xia-literal", False, 0), recipe="xia-literal", k=1
        )
    return out


@pytest.mark.parametrize("layer", ["relu1_1", "relu3_1", "relu5_1"])
def test_xia_recipe_on_vgg19_64_gives_textures_where_the_literal_one_stays_grey(
    layer: str, xia_textures_by_depth: dict[str, object]
) -> None:
    # the official constants on the network shipped for them: the literal loss hands the 0-255 variable
    # gradients far below the clip and the stopping rule ends on the starting noise (std ~0.03);
    # calibrated to the clip's scale, the same recipe draws a texture that moved the features
    from preimage.inverters.feature_maps import Textures

    tex, literal = xia_textures_by_depth[layer], xia_textures_by_depth[f"{layer} literal"]
    assert isinstance(tex, Textures) and isinstance(literal, Textures)
    assert float(literal.images[0].std()) < 0.04
    for i in range(2):
        assert float(tex.images[i].std()) >= 0.06, (layer, tex.channels[i])
        assert tex.feature_error[i] < 0.99, (layer, tex.feature_error[i])
        assert 20 < tex.steps[i] < 1000  # the official stopping rule ended it, not the cap


def test_xia_textures_get_finer_with_depth(xia_textures_by_depth: dict[str, object]) -> None:
    # Xia et al.'s figure: the textures of deeper filters are more complex; here, finer (more spectral energy
    # above a quarter of Nyquist), measured on the calibrated recipe's textures
    from preimage.inverters.feature_maps import Textures
    from preimage.report.figures import high_frequency_energy

    hfe = []
    for layer in ("relu1_1", "relu3_1", "relu5_1"):
        tex = xia_textures_by_depth[layer]
        assert isinstance(tex, Textures)
        hfe.append(sum(high_frequency_energy(t) for t in tex.images) / len(tex.images))
    assert hfe[0] < hfe[1] < hfe[2], hfe
