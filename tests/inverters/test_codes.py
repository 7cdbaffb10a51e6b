from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from preimage.errors import PreimageError
from preimage.inverters.codes import (
    binarize,
    channel_energy,
    drop_least,
    dropout,
    interpolate,
    keep_channels,
    reallocate_random,
    reallocate_toward,
    sample_random,
    top_k,
)

shapes = st.tuples(st.integers(1, 3), st.integers(2, 8), st.integers(1, 6), st.integers(1, 6))


def _relu_code(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.relu(torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_keep_channels_sum_mode_keeps_spatial_energy(shape: tuple[int, ...], seed: int) -> None:
    code = _relu_code(shape, seed)
    ch = seed % shape[1]
    out = keep_channels(code, ch)
    assert torch.allclose(out[:, ch], code.sum(1))
    assert torch.count_nonzero(torch.cat([out[:, :ch], out[:, ch + 1 :]], 1)) == 0
    own = keep_channels(code, ch, mode="own")
    assert torch.equal(own[:, ch], code[:, ch]) and torch.allclose(own.sum(), code[:, ch].sum())


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000))
def test_reallocation_conserves_total_energy(shape: tuple[int, ...], seed: int) -> None:
    code = _relu_code(shape, seed)
    out = reallocate_random(code, seed)
    assert torch.allclose(channel_energy(out).sum(1), channel_energy(code).sum(1))
    assert torch.equal(out, reallocate_random(code, seed))  # seeded
    assert ((out == 0) == (code == 0)).all()  # each map only rescaled: the spatial pattern is kept
    style = _relu_code((1, *shape[1:]), seed + 1)
    toward = reallocate_toward(code, style)
    assert torch.allclose(channel_energy(toward).sum(1), channel_energy(code).sum(1))
    alive = channel_energy(code) > 0
    style_rates = torch.where(alive, channel_energy(style).expand_as(alive), 0.0)
    rows = (style_rates.sum(1) > 0) & alive.any(1)  # items with energy to move and somewhere to put it
    rates = channel_energy(toward)[rows] / channel_energy(toward)[rows].sum(1, keepdim=True)
    style_rates = style_rates[rows] / style_rates[rows].sum(1, keepdim=True)
    assert torch.allclose(rates, style_rates)


def test_reallocation_rates_differ_between_seeds() -> None:
    code = _relu_code((1, 16, 4, 4), 0)
    a = channel_energy(reallocate_random(code, 1))
    b = channel_energy(reallocate_random(code, 2))
    assert not torch.allclose(a, b)


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10_000), p=st.floats(0.1, 0.9))
def test_perturbations_keep_their_invariants(shape: tuple[int, ...], seed: int, p: float) -> None:
    code = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    norms = code.flatten(1).norm(dim=1)
    b = binarize(code)
    assert torch.allclose(b.flatten(1).norm(dim=1), norms)
    assert torch.equal(torch.sign(b), torch.sign(code))
    assert all(len(set(row[row != 0].abs().round(decimals=10).tolist())) <= 1 for row in b.flatten(1))
    d = dropout(code, p, seed)
    kept = (d != 0).flatten(1)
    if kept.any(dim=1).all():
        assert torch.allclose(d.flatten(1).norm(dim=1), norms)
    assert ((d == 0) | (torch.sign(d) == torch.sign(code))).all()
    least = drop_least(code, p)
    nnz = (code != 0).flatten(1).sum(1)
    zeros_added = (least == 0).flatten(1).sum(1) - (code == 0).flatten(1).sum(1)
    assert torch.equal(zeros_added, torch.round(p * nnz).long())
    # the survivors are the largest magnitudes
    for row_in, row_out in zip(code.flatten(1), least.flatten(1), strict=True):
        if (row_out == 0).any() and (row_out != 0).any():
            assert row_in[row_out != 0].abs().min() >= row_in[(row_out == 0) & (row_in != 0)].abs().max()


def test_top_k_both_ways() -> None:
    code = torch.tensor([[0.1, 0.5, 0.05, 0.3, 0.05]], dtype=torch.float64)
    assert top_k(code, 2).tolist() == [[0.0, 0.5, 0.0, 0.3, 0.0]]
    assert top_k(code, 2, keep="rest").tolist() == [[0.1, 0.0, 0.05, 0.0, 0.05]]


def test_interpolate_endpoints_and_midpoint() -> None:
    a, b = torch.zeros(3, 2), torch.ones(3, 2)
    path = interpolate(a, b, steps=5)
    assert path.shape == (5, 3, 2) and torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path[2], torch.full((3, 2), 0.5))
    with pytest.raises(PreimageError, match="differ in shape"):
        interpolate(a, torch.ones(2, 2))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000), dims=st.integers(3, 40))
def test_random_codes_keep_real_sparsity(seed: int, dims: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    sparsity = torch.linspace(0.1, 0.9, dims)
    real = torch.rand(4000, dims, generator=gen) * (torch.rand(4000, dims, generator=gen) > sparsity)
    fake = sample_random(real, 4000, "histogram", seed)
    assert torch.allclose((fake == 0).float().mean(0), (real == 0).float().mean(0), atol=0.05)
    gauss = sample_random(real, 4000, "gaussian", seed)
    assert (gauss >= 0).all()
    assert torch.allclose((gauss == 0).float().mean(0), (real == 0).float().mean(0), atol=0.06)


def test_bad_codes_are_clear_errors() -> None:
    with pytest.raises(PreimageError, match="out of range"):
        keep_channels(torch.rand(1, 4, 2, 2), 7)
    with pytest.raises(PreimageError, match="NaN"):
        binarize(torch.tensor([[float("nan"), 1.0]]))
    with pytest.raises(PreimageError, match="batch"):
        keep_channels(torch.rand(4, 2), 0)


def test_gaussian_random_codes_truncate_only_rectified_dimensions() -> None:
    from preimage.inverters.codes import sample_random

    gen = torch.Generator().manual_seed(0)
    signed = torch.randn(400, 6, generator=gen)  # logits: negative values, no exact zeros
    rectified = torch.relu(torch.randn(400, 6, generator=gen) - 0.5)  # ~69% zeros
    fake = sample_random(torch.cat([signed, rectified], 1), 4000, "gaussian", seed=1)
    assert (fake[:, :6] < 0).float().mean() > 0.3 and (fake[:, :6] == 0).sum() == 0
    zero_frac = (fake[:, 6:] == 0).float().mean()
    assert abs(float(zero_frac) - float((rectified == 0).float().mean())) < 0.05
