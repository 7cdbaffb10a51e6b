from __future__ import annotations

import pytest
import torch

from preimage.errors import PreimageError
from preimage.representations import create_representation, vlfeat


@pytest.mark.parametrize("name", ["hog", "lbp", "sift"])
def test_missing_libvl_is_a_one_line_install_hint(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREIMAGE_LIBVL", "/nonexistent/libvl.so")
    vlfeat._lib.cache_clear()
    try:
        rep = create_representation(name, backend="vlfeat")
        with pytest.raises(PreimageError, match="apt-get install libvlfeat1") as err:
            rep(torch.rand(1, 3, 64, 64))
        assert "\n" not in str(err.value)
    finally:
        vlfeat._lib.cache_clear()
