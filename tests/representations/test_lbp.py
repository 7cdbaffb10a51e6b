from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from preimage.errors import PreimageError
from preimage.representations import LBP, create_representation
from preimage.representations.lbp import flip_lbp_code, lbp_codes, lbp_uniform_gray, uniform_mapping
from tests.conftest import natural_gray, requires_vlfeat

SIZES = [(64, 64), (100, 80), (227, 227)]


@requires_vlfeat
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["natural", "random", "quantised"])
def test_matches_vlfeat(size: tuple[int, int], kind: str, rng: np.random.Generator) -> None:
    from preimage.representations.vlfeat import vl_lbp

    if kind == "natural":
        img = natural_gray(*size)
    elif kind == "random":
        img = rng.random(size, dtype=np.float32)
    else:  # many exact ties between neighbours: the strict '>' must match
        img = (np.round(rng.random(size) * 3) / 3).astype(np.float32)
    ref = vl_lbp(img, 16)
    out = lbp_uniform_gray(torch.from_numpy(img)[None, None])[0].numpy()
    assert out.shape == ref.shape == (58, size[0] // 16, size[1] // 16)
    assert np.abs(out - ref).max() <= 1e-4


@requires_vlfeat
@pytest.mark.parametrize(
    ("size", "cell"),
    [
        ((70, 45), 7),  # odd cell: offsets in a block are even sixteenths
        ((64, 64), 4),
        ((90, 33), 9),  # pixels past the last cell centre that VLFeat drops
        ((100, 130), 32),  # moments in 32-bit lanes, two words
        ((1100, 1030), 4),  # 70k blocks: slot indices summed in float64
    ],
)
def test_matches_vlfeat_at_other_cell_sizes(size: tuple[int, int], cell: int, rng: np.random.Generator) -> None:
    from preimage.representations.vlfeat import vl_lbp

    img = (np.round(rng.random(size) * 7) / 7).astype(np.float32)  # ties too
    out = lbp_uniform_gray(torch.from_numpy(img)[None, None], cell)[0].numpy()
    ref = vl_lbp(img, cell)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4


def test_threads_do_not_share_buffers() -> None:
    """Each thread keeps its own scratch buffers: concurrent calls give what sequential ones give."""
    from concurrent.futures import ThreadPoolExecutor

    gen = torch.Generator().manual_seed(3)
    batches = [torch.rand(n, 1, 64 + 8 * n, 80, generator=gen) for n in (1, 3, 5, 7)]
    sequential = [lbp_uniform_gray(b) for b in batches]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lbp_uniform_gray, batches))
            assert all(torch.equal(a, b) for a, b in zip(concurrent, sequential, strict=True))


def test_results_do_not_alias_buffers() -> None:
    """A result stays as it was after the next call reuses the scratch buffers."""
    first_input = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    first = lbp_uniform_gray(first_input)
    kept = first.clone()
    lbp_uniform_gray(torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(first, kept)


def test_buffers_above_the_keep_limit_are_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from preimage.representations import lbp

    gray = torch.rand(3, 1, 96, 80, generator=torch.Generator().manual_seed(4))
    kept = lbp_uniform_gray(gray)
    monkeypatch.setattr(lbp, "SCRATCH_KEEP_BYTES", 1024)
    monkeypatch.setattr(lbp, "_SCRATCH", threading.local())
    assert torch.equal(lbp_uniform_gray(gray), kept)
    assert lbp._SCRATCH.__dict__.get("buffers", {}) == {}


def test_cell_size_above_limit_is_refused() -> None:
    with pytest.raises(PreimageError, match="cell size 200"):
        lbp_uniform_gray(torch.rand(1, 1, 400, 400), 200)


@requires_vlfeat
def test_mapping_equals_libvl_table() -> None:
    import ctypes

    from preimage.representations.vlfeat import _lib

    class VlLbp(ctypes.Structure):
        _fields_ = [
            ("dimension", ctypes.c_uint64),
            ("mapping", ctypes.c_uint8 * 256),
            ("transposed", ctypes.c_int),
        ]

    lib = _lib()
    handle = lib.vl_lbp_new(0, 0)
    try:
        table = np.array(ctypes.cast(handle, ctypes.POINTER(VlLbp)).contents.mapping)
    finally:
        lib.vl_lbp_delete(handle)
    assert (table == uniform_mapping()).all()


def test_uniform_mapping_by_hand() -> None:
    table = uniform_mapping()
    assert table.max() == 57 and len(set(table.tolist())) == 58
    assert table[0x00] == table[0xFF] == 56
    assert table[0b00000001] == 0  # one 1 starting at bit 0
    assert table[0b00000110] == 7 * 1 + 1  # run of two starting at bit 1
    assert table[0b10000011] == 7 * 7 + 2  # run of three starting at bit 7, wrapping
    assert table[0b01010101] == 57  # non-uniform


def test_constant_image_is_all_bin_56() -> None:
    out = lbp_uniform_gray(torch.full((1, 1, 64, 64), 0.4))
    assert torch.allclose(out[0, 56], torch.ones(4, 4))
    assert torch.count_nonzero(out[0, :56]) == 0 and torch.count_nonzero(out[0, 57]) == 0


def test_step_edge_codes_by_hand() -> None:
    img = torch.zeros(1, 1, 8, 8)
    img[..., 4:] = 1.0
    codes = lbp_codes(img)[0]  # interior pixels, columns 1..6
    # column 3 (dark, right of it bright): E, SE, NE set -> bits 0, 1, 7
    assert (codes[:, 3 - 1] == 0b10000011).all()
    # every other interior pixel sees no strictly brighter neighbour
    others = torch.cat([codes[:, : 3 - 1], codes[:, 3:]], dim=1)
    assert (others == 0).all()


@settings(max_examples=25, deadline=None)
@given(h=st.integers(16, 90), w=st.integers(16, 90), double=st.booleans())
def test_cells_have_unit_norm_property(h: int, w: int, double: bool) -> None:
    dtype = torch.float64 if double else torch.float32
    x = torch.rand(2, 3, h, w, dtype=dtype, generator=torch.Generator().manual_seed(h + 7 * w))
    rep = LBP()
    out = rep(x)
    assert out.shape == (2, *rep.out_shape((h, w))) and out.dtype == dtype
    norms = out.square().sum(1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_out_shape_for_paper_size() -> None:
    assert create_representation("lbp").out_shape(64) == (58, 4, 4)


@pytest.mark.parametrize("cell", [16, 8, 4])
@pytest.mark.parametrize("kind", ["natural", "random", "quantised"])
def test_flip_code_is_the_lbp_of_the_mirrored_image(cell: int, kind: str, rng: np.random.Generator) -> None:
    if kind == "natural":
        img = natural_gray(64, 96)
    elif kind == "random":
        img = rng.random((64, 96), dtype=np.float32)
    else:  # exact ties between neighbours: mirroring must not change which comparisons hold
        img = (np.round(rng.random((64, 96)) * 3) / 3).astype(np.float32)
    gray = torch.from_numpy(img)[None, None]
    mirrored = lbp_uniform_gray(gray.flip(-1), cell)
    assert torch.equal(flip_lbp_code(lbp_uniform_gray(gray, cell)), mirrored)
    assert torch.equal(LBP(cell).flip_code(lbp_uniform_gray(gray, cell)), mirrored)


def test_flip_code_bins_by_hand() -> None:
    code = torch.zeros(1, 58, 1, 2)
    code[0, 0, 0, 0] = 1.0  # east neighbour brighter (bit 0), left cell
    code[0, 7 * 1 + 1, 0, 1] = 1.0  # south-east and south (bits 1, 2), right cell
    code[0, 57, 0, 1] = 0.5  # non-uniform stays non-uniform
    out = flip_lbp_code(code)
    assert out[0, 7 * 4, 0, 1] == 1.0  # -> west (bit 4), now in the right cell
    assert out[0, 7 * 2 + 1, 0, 0] == 1.0  # -> south and south-west (bits 2, 3), now in the left cell
    assert out[0, 57, 0, 0] == 0.5
    assert out.sum() == code.sum()
    with pytest.raises(PreimageError, match="58"):
        flip_lbp_code(torch.zeros(1, 31, 4, 4))
