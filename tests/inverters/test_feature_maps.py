from __future__ import annotations

import pytest
import torch

from preimage.errors import PreimageError
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
