from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from preimage.data import center_crop, decode_image, fit_image, load_image, load_sample, random_crop, resize
from preimage.data.images import gaussian_blur
from preimage.errors import PreimageError


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def test_rgb_roundtrip_values() -> None:
    arr = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = decode_image(_png(Image.fromarray(arr)))
    assert out.shape == (3, 5, 7) and out.dtype == torch.float32
    assert torch.allclose(out, torch.from_numpy(arr).permute(2, 0, 1).float() / 255)


def test_grayscale_becomes_three_equal_channels() -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    out = decode_image(_png(Image.fromarray(arr, mode="L")))
    assert out.shape == (3, 3, 4)
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert out[0, 0, 1].item() == pytest.approx(20 / 255)


def test_rgba_is_composited_over_white() -> None:
    arr = np.zeros((2, 2, 4), dtype=np.uint8)
    arr[..., 0] = 255  # red
    arr[0, 0, 3] = 255  # opaque
    arr[0, 1, 3] = 0  # fully transparent -> white
    arr[1, :, 3] = 128
    out = decode_image(_png(Image.fromarray(arr, mode="RGBA")))
    assert out[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert out[:, 0, 1].tolist() == [1.0, 1.0, 1.0]
    assert out[1, 1, 0].item() == pytest.approx(1 - 128 / 255, abs=1e-6)


def test_palette_image() -> None:
    img = Image.fromarray(np.array([[0, 1], [1, 0]], dtype=np.uint8), mode="P")
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    out = decode_image(_png(img))
    assert out[:, 0, 0].tolist() == [1.0, 0.0, 0.0] and out[:, 0, 1].tolist() == [0.0, 0.0, 1.0]


def test_sixteen_bit_keeps_its_range() -> None:
    arr = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    out = decode_image(_png(Image.fromarray(arr)))
    assert out[0, 0, 1].item() == pytest.approx(1.0)
    assert out[0, 1, 0].item() == pytest.approx(32768 / 65535, abs=1e-6)
    assert out[0, 1, 1].item() == pytest.approx(1000 / 65535, abs=1e-6)


def test_exif_rotation_is_applied() -> None:
    arr = np.zeros((2, 4, 3), dtype=np.uint8)  # 2 rows x 4 columns
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes())
    out = decode_image(buf.getvalue())
    assert out.shape == (3, 4, 2)


@pytest.mark.parametrize("data", [b"", b"not an image at all", _png(Image.new("RGB", (64, 64)))[:60]])
def test_corrupt_or_truncated_is_one_line_error(data: bytes) -> None:
    with pytest.raises(PreimageError, match="cannot decode image") as err:
        decode_image(data, "x.png")
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PreimageError, match="not found"):
        load_image(tmp_path / "nope.png")


def test_resize_and_crops() -> None:
    img = torch.rand(3, 40, 80)
    assert resize(img, 16).shape == (3, 16, 16)
    c = center_crop(img, 20)
    assert c.shape == (3, 20, 20)
    # centre crop of a 2:1 image keeps the middle half of the resized width
    ref = resize(img, (20, 40))[:, :, 10:30]
    assert torch.allclose(c, ref)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(random_crop(img, 20, g1), random_crop(img, 20, g2))
    crops = {random_crop(img, 20, torch.Generator().manual_seed(s)).sum().item() for s in range(8)}
    assert len(crops) > 1
    with pytest.raises(PreimageError, match="unknown fit"):
        fit_image(img, 16, "squash")


def test_samples_are_rgb_in_unit_range() -> None:
    for name in ["astronaut", "camera", "coffee"]:
        img = load_sample(name)
        assert img.shape[0] == 3 and img.min() >= 0 and img.max() <= 1
    with pytest.raises(PreimageError, match="did you mean 'astronaut'"):
        load_sample("astronat")


@pytest.mark.parametrize("fit", ["resize", "center", "random"])
def test_a_fitted_photo_is_the_photo_saved_at_that_size(fit: str, tmp_path: Path) -> None:
    # what a representation sees after resizing must be what it would see had the resized photo been saved
    # as an 8-bit file (as every training set is stored): binary codes such as LBP flip on sub-level changes
    from preimage.data.images import save_image

    photo = load_sample("coffee")  # 400x600, a real 8-bit photo
    fitted = fit_image(photo, 224, fit)
    assert fitted.shape == (3, 224, 224)
    reread = load_image(save_image(fitted, tmp_path / "fitted.png"))
    assert torch.equal(fitted, reread)
    # the float resize differs from it by less than one level: rounding, not a different resampling
    reference = {"resize": resize(photo, 224), "center": center_crop(photo, 224)}.get(fit)
    if reference is not None:
        assert (fitted - reference).abs().max().item() <= 0.5 / 255 + 1e-6
    # an image already at the size passes through untouched (a float image stays float)
    exact = torch.rand(3, 32, 32)
    assert torch.equal(fit_image(exact, 32, fit), exact)


def test_rotate_hue_turns_primaries_and_leaves_greys() -> None:
    from preimage.data.images import rotate_hue

    primaries = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]]).T.reshape(3, 1, 4)
    turned = rotate_hue(primaries, 120)
    expected = torch.tensor([[0.0, 1, 0], [0, 0, 1], [1, 0, 0], [0.5, 0.5, 0.5]]).T.reshape(3, 1, 4)
    torch.testing.assert_close(turned, expected, atol=1e-6, rtol=0)
    photo = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(rotate_hue(photo, 360), photo, atol=1e-6, rtol=0)
    with pytest.raises(PreimageError, match="RGB"):
        rotate_hue(torch.rand(1, 5, 5), 90)


def test_the_blur_matches_scipy_with_mirrored_borders() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    images = torch.rand(2, 3, 20, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = ndimage.gaussian_filter(images.numpy(), sigma=(0, 0, 2.0, 2.0), mode="mirror", truncate=3.0)
    assert torch.allclose(gaussian_blur(images, 2.0), torch.from_numpy(expected), atol=1e-12)
    with pytest.raises(PreimageError, match="larger than 6 px"):
        gaussian_blur(torch.zeros(1, 3, 6, 6), 2.0)
