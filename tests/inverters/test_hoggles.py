"""HOGgles: FISTA lasso against scikit-learn's LARS, the shipped dictionary beats a constant guess."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preimage.errors import PreimageError
from preimage.inverters.hoggles import HogglesConfig, PairedDictionary, learn_paired_dictionary, sparse_code
from preimage.metrics import normalized_reconstruction_error
from preimage.representations.hog import hog_uoctti


def test_sparse_code_matches_sklearn_lasso_lars() -> None:
    from sklearn.decomposition import sparse_encode

    gen = torch.Generator().manual_seed(0)
    atoms = torch.randn(24, 40, generator=gen, dtype=torch.float64)
    atoms /= atoms.norm(dim=1, keepdim=True)
    signals = torch.randn(7, 40, generator=gen, dtype=torch.float64)
    ours = sparse_code(signals, atoms, alpha=0.5, iterations=3000)
    ref = sparse_encode(signals.numpy(), atoms.numpy(), algorithm="lasso_lars", alpha=0.5)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-4)
    assert (ours == 0).float().mean() > 0.2  # the penalty makes the codes sparse


def test_learned_pairs_reconstruct_their_training_windows() -> None:
    gen = torch.Generator().manual_seed(1)
    # smooth random images: the dictionary must tie their HOG to their pixels
    images = torch.nn.functional.interpolate(torch.rand(40, 3, 8, 8, generator=gen), size=64, mode="bilinear")
    images = images.mean(1, keepdim=True).expand(-1, 3, -1, -1).contiguous()
    d = learn_paired_dictionary(images, HogglesConfig(atoms=32, windows=800, epochs=4, alpha=0.01))
    recon = d(hog_uoctti(images))
    assert recon.shape == images.shape and recon.min() >= 0 and recon.max() <= 1
    assert torch.equal(recon[:, 0], recon[:, 1])  # gray out
    assert normalized_reconstruction_error(images, recon) < normalized_reconstruction_error(
        images, torch.full_like(images, float(images.mean()))
    )


def test_shipped_dictionary_beats_mean_gray(sample_images: torch.Tensor) -> None:
    d = PairedDictionary.from_pretrained()
    recon = d(hog_uoctti(sample_images))
    flat = torch.full_like(sample_images, float(sample_images.mean()))
    assert normalized_reconstruction_error(sample_images, recon) < normalized_reconstruction_error(sample_images, flat)


def test_bad_codes_are_refused() -> None:
    d = PairedDictionary.from_pretrained()
    with pytest.raises(PreimageError, match="31"):
        d(torch.zeros(1, 58, 4, 4))
    with pytest.raises(PreimageError, match="NaN"):
        d(torch.full((1, 31, 8, 8), float("nan")))
    with pytest.raises(PreimageError, match="window"):
        d(torch.zeros(1, 31, 2, 2))
