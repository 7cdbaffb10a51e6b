from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.feature import hog as skimage_hog

from preimage.errors import PreimageError
from preimage.representations import HOG, HOGDalalTriggs, create_representation, hog_uoctti
from preimage.representations.hog import hog_dalal_triggs_gray, hog_uoctti_gray
from tests.conftest import natural_gray, requires_vlfeat

SIZES = [(64, 64), (100, 80), (227, 227)]


def _gray(arr: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(arr).to(dtype)[None, None]


@requires_vlfeat
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["natural", "random"])
def test_uoctti_matches_vlfeat(size: tuple[int, int], kind: str, rng: np.random.Generator) -> None:
    from preimage.representations.vlfeat import vl_hog

    img = natural_gray(*size) if kind == "natural" else rng.random(size, dtype=np.float32)
    ref = vl_hog(img, 8, "uoctti")
    out = hog_uoctti_gray(_gray(img))[0].numpy()
    assert out.shape == ref.shape == (31, (size[0] + 4) // 8, (size[1] + 4) // 8)
    assert np.abs(out - ref).max() <= 1e-4


@requires_vlfeat
def test_vlfeat_backend_equals_torch_backend() -> None:
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    a = HOG(backend="torch")(x)
    b = HOG(backend="vlfeat")(x)
    assert (a - b).abs().max() <= 1e-4


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["natural", "random"])
def test_dalal_triggs_matches_skimage(size: tuple[int, int], kind: str, rng: np.random.Generator) -> None:
    img = (natural_gray(*size) if kind == "natural" else rng.random(size)).astype(np.float64)
    ref = skimage_hog(
        img,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        feature_vector=False,
    )
    out = hog_dalal_triggs_gray(_gray(img, torch.float64))[0].numpy()
    nbr, nbc = out.shape[1:]
    out = out.reshape(2, 2, 9, nbr, nbc).transpose(3, 4, 0, 1, 2)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4


def test_constant_image_gives_zero_hog() -> None:
    out = hog_uoctti(torch.full((1, 3, 64, 64), 0.5))
    assert torch.count_nonzero(out) == 0


@pytest.mark.parametrize("dark_left", [True, False])
def test_vertical_step_edge_by_hand(dark_left: bool) -> None:
    # A vertical edge between columns 31 and 32: interior pixels x = 31 and 32 see gx = +-1, gy = 0.
    img = torch.zeros(1, 1, 64, 64)
    img[..., 32:] = 1.0
    if not dark_left:
        img = 1.0 - img
    out = hog_uoctti_gray(img)[0]
    # x = 31 and 32 split their vote 0.5625/0.4375 and 0.4375/0.5625 between cell columns 3 and 4,
    # so interior cells of columns 3 and 4 hold 8 (rows) x 1.0. Their four 2x2 blocks have squared
    # norms 128 (with an empty column) or 256: every factor x 8 exceeds 0.2 and is truncated.
    cell = out[:, 3, 3]
    directed = 0 if dark_left else 9  # gradient points right (0 rad) or left (pi)
    expected = torch.zeros(31)
    expected[directed] = 0.5 * 4 * 0.2
    expected[18] = 0.5 * 4 * 0.2
    expected[27:] = 0.2 / math.sqrt(18.0)
    assert torch.allclose(cell, expected, atol=1e-6)
    # columns away from the edge have no gradient energy at all
    assert torch.count_nonzero(out[:27, :, 0]) == 0
    assert torch.count_nonzero(out[:27, :, 7]) == 0


def test_gradcheck_float64() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 12, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: hog_uoctti(t, cell_size=4), (x,), eps=1e-7, atol=1e-5)


def test_gradients_reach_pixels() -> None:
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    hog_uoctti(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_flat_image_gradient_is_finite() -> None:
    x = torch.full((1, 3, 16, 16), 0.3, requires_grad=True)
    hog_uoctti(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@settings(max_examples=25, deadline=None)
@given(h=st.integers(8, 90), w=st.integers(8, 90), double=st.booleans(), batch=st.integers(1, 3))
def test_shapes_and_bounds_property(h: int, w: int, double: bool, batch: int) -> None:
    dtype = torch.float64 if double else torch.float32
    x = torch.rand(batch, 3, h, w, dtype=dtype, generator=torch.Generator().manual_seed(h * 131 + w))
    rep = HOG()
    out = rep(x)
    assert out.shape == (batch, *rep.out_shape((h, w)))
    assert out.dtype == dtype
    assert torch.isfinite(out).all() and (out >= 0).all()
    # each orientation entry is half the sum of four values truncated at 0.2
    assert out[:, :27].max() <= 0.4 + 1e-6
    dt = HOGDalalTriggs()
    if h >= 16 and w >= 16:
        blocks = dt(x)
        assert blocks.shape == (batch, *dt.out_shape((h, w)))
        norms = blocks.square().sum(1).sqrt()
        assert torch.allclose(norms[norms > 0.5], torch.ones_like(norms[norms > 0.5]), atol=1e-4)


def test_out_shape_for_paper_size() -> None:
    assert create_representation("hog").out_shape(64) == (31, 8, 8)
    assert create_representation("hog-dt").out_shape(64) == (36, 7, 7)


@pytest.mark.parametrize(
    "bad, fix",
    [
        (torch.rand(3, 64, 64), "batch dimension"),
        (torch.rand(1, 1, 64, 64), "expand gray"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "divide by 255"),
        (torch.full((1, 3, 64, 64), float("nan")), "NaN"),
        (torch.rand(1, 3, 2, 64), "resize"),
    ],
)
def test_bad_input_one_line_error(bad: torch.Tensor, fix: str) -> None:
    with pytest.raises(PreimageError, match=fix) as err:
        HOG()(bad)
    assert "\n" not in str(err.value)


def test_hog_dt_rejects_vlfeat_backend() -> None:
    with pytest.raises(PreimageError, match="or hog for VLFeat"):
        create_representation("hog-dt", backend="vlfeat")


def test_flip_code_is_the_hog_of_the_mirrored_image() -> None:
    """Reference: the HOG computed on the mirrored image (continuous pixels, so no orientation ties)."""
    from preimage.representations.hog import HOG, flip_hog_code

    torch.manual_seed(0)
    hog = HOG()
    for shape in ((3, 3, 64, 64), (2, 3, 40, 56)):
        x = torch.rand(shape)
        torch.testing.assert_close(hog.flip_code(hog(x)), hog(x.flip(-1)), atol=1e-6, rtol=0)
    code = hog(torch.rand(1, 3, 32, 32))
    torch.testing.assert_close(flip_hog_code(flip_hog_code(code)), code)  # an involution
    with pytest.raises(PreimageError, match="UoCTTI"):
        flip_hog_code(torch.rand(1, 36, 4, 4))
