"""``create_representation`` names: ``NAME@CELL`` picks a cell size and is checked against VLFeat at that size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from preimage.errors import PreimageError
from preimage.representations import create_representation, parse_cell_size, rgb_to_gray
from tests.conftest import natural_gray, requires_vlfeat


def _rgb(gray: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(gray)[None, None].expand(1, 3, -1, -1).contiguous()


@requires_vlfeat
@pytest.mark.parametrize(("name", "cell"), [("lbp@4", 4), ("lbp@8", 8), ("hog@4", 4), ("hog@16", 16)])
def test_cell_size_in_the_name_matches_vlfeat_at_that_cell_size(name: str, cell: int) -> None:
    from preimage.representations.vlfeat import vl_hog, vl_lbp

    img = natural_gray(64, 64)
    x = _rgb(img)
    gray = rgb_to_gray(x)[0, 0].numpy()  # what the representation sees (equal to img up to rounding)
    ref = vl_lbp(gray, cell) if name.startswith("lbp") else vl_hog(gray, cell, "uoctti")
    out = create_representation(name)(x)[0].numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-4


def test_cell_size_changes_the_code_grid_and_is_named() -> None:
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    rep = create_representation("lbp@4")
    assert rep(x).shape == (2, 58, 16, 16)  # 64 / 4 cells a side, against 4 for the default lbp
    assert rep.name == "lbp@4"  # errors and decoder files name the variant
    assert create_representation("sift@8")(x).shape == (2, 133, 8, 8)


@pytest.mark.parametrize(
    ("name", "fix"),
    [("lbp@x", "integer >= 2"), ("lbp@1", "integer >= 2"), ("lbp@", "integer >= 2"), ("lbx@4", "did you mean 'lbp'")],
)
def test_bad_cell_size_names_are_one_line_errors(name: str, fix: str) -> None:
    with pytest.raises(PreimageError, match=fix) as err:
        create_representation(name)
    assert "\n" not in str(err.value)


def test_parse_cell_size() -> None:
    assert parse_cell_size("hog") == ("hog", None)
    assert parse_cell_size("hog@4") == ("hog", 4)


def test_spellings_of_one_representation_share_its_name() -> None:
    from preimage.inverters.decoders import Decoder
    from preimage.representations import canonical_name

    assert canonical_name("lbp@04") == "lbp@4"
    assert canonical_name("lbp@16") == canonical_name("lbp") == "lbp"  # the default cell size is the default
    assert canonical_name("hog@8") == "hog" and canonical_name("alexnet64:conv3") == "alexnet64:conv3"
    assert Decoder.from_pretrained("lbp@16").rep == "lbp"  # the shipped decoders are found by any spelling


def test_cell_sizes_only_for_representations_that_have_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    from preimage.representations import REPRESENTATIONS

    with pytest.raises(PreimageError, match="drop it from 'alexnet64:conv3@4'"):
        create_representation("alexnet64:conv3@4")
    with pytest.raises(PreimageError, match="integer >= 2"):
        create_representation("lbp@²")  # a digit to str.isdigit, not to int()

    class Cellless(torch.nn.Module):
        name = "cellless"

    monkeypatch.setitem(REPRESENTATIONS._entries, "cellless", lambda backend="torch": Cellless())
    with pytest.raises(PreimageError, match="'cellless' has no cell size; drop '@4'"):
        create_representation("cellless@4")
