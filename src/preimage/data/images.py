"""Decode any image file into an RGB float tensor ``(3, H, W)`` in ``[0, 1]``.

Whatever the file holds (grayscale, grayscale+alpha, RGBA, palette, CMYK,
16-bit, EXIF-rotated), the result has the same type, so every representation
downstream sees one contract. Alpha is composited over white, because a
transparent background is what a person sees as "paper".
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from preimage.errors import ImageTooLarge, PreimageError
from preimage.files import atomic_path

DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS  # Pillow's own: 89,478,485 pixels
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _to_float_rgb(img: Image.Image) -> np.ndarray:
    """PIL image of any mode -> float32 ``(H, W, 3)`` in ``[0, 1]``."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        return np.repeat(arr[..., None], 3, axis=2)
    if mode == "I":
        arr = np.asarray(img, dtype=np.float32)
        # Pillow widens 16-bit PNGs to 32-bit "I"; values above 255 reveal the 16-bit range.
        arr = arr / (65535.0 if arr.max(initial=0) > 255 else 255.0)
        return np.repeat(np.clip(arr, 0, 1)[..., None], 3, axis=2)
    if mode == "F":
        arr = np.clip(np.asarray(img, dtype=np.float32), 0, 1)
        return np.repeat(arr[..., None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA")
    elif mode in ("1", "L", "CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        arr = np.asarray(img, dtype=np.float32) / 255.0
        alpha = arr[..., 3:4]
        return arr[..., :3] * alpha + (1.0 - alpha)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.float32) / 255.0


def set_max_pixels(pixels: int | None) -> None:
    """The largest image (width x height) :func:`decode_image` accepts; ``None`` restores Pillow's default."""
    Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS if pixels is None else int(pixels)


def _check_pixels(img: Image.Image, name: str) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    w, h = img.size
    if limit is not None and w * h > limit:
        raise ImageTooLarge(
            f"image {name} is {w}x{h} = {w * h} pixels, above the limit of {limit} (about "
            f"{w * h * 12 / 2**30:.1f} GB decoded) — downscale it, or raise `max_pixels` if it fits in memory"
        )


def decode_image(data: bytes, name: str = "<bytes>") -> torch.Tensor:
    """Decode encoded image bytes; raises :class:`PreimageError` on corrupt data or too many pixels.

    The pixel count is checked from the header, before the pixels are decoded, against
    ``PIL.Image.MAX_IMAGE_PIXELS`` (see :func:`set_max_pixels`).

    Shape:
        - Output: :math:`(3, H, W)`, float32 in ``[0, 1]``.
    """
    try:
        with warnings.catch_warnings():
            # the explicit check below replaces Pillow's warning (between 1x and 2x its limit) and error (2x)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened_ = Image.open(io.BytesIO(data))
        with opened_ as opened:
            _check_pixels(opened, name)
            opened.load()
            img: Image.Image = ImageOps.exif_transpose(opened) or opened
            arr = _to_float_rgb(img)
    except PreimageError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLarge(
            f"image {name} has more than twice the limit of {Image.MAX_IMAGE_PIXELS} pixels — downscale it, or "
            "raise `max_pixels` if it fits in memory"
        ) from None
    except UnidentifiedImageError:
        raise PreimageError(
            f"cannot decode image {name}: not a recognised image format — re-export it as PNG or JPEG"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise PreimageError(
            f"cannot decode image {name}: {reason} — the file is corrupt or truncated; re-export it as PNG or JPEG"
        ) from None
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def load_image(path: str | Path) -> torch.Tensor:
    """Read one image file as RGB float ``(3, H, W)`` in ``[0, 1]``."""
    path = Path(path)
    if not path.is_file():
        raise PreimageError(f"image file not found: {path} — check the path")
    return decode_image(path.read_bytes(), str(path))


def resize(img: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize ``(..., 3, H, W)`` to ``size`` (square if an int), bilinear with antialiasing."""
    hw = (size, size) if isinstance(size, int) else size
    if tuple(img.shape[-2:]) == hw:
        return img
    batched = img if img.dim() == 4 else img.unsqueeze(0)
    out = F.interpolate(batched, size=hw, mode="bilinear", align_corners=False, antialias=True)
    out = out.clamp(0, 1)
    return out if img.dim() == 4 else out[0]


def center_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to ``size``, then cut the central ``size x size`` square."""
    h, w = img.shape[-2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    img = resize(img, (nh, nw))
    top, left = (nh - size) // 2, (nw - size) // 2
    return img[..., top : top + size, left : left + size]


def random_crop(img: torch.Tensor, size: int, generator: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """A seeded random ``size x size`` crop.

    The shorter side is first resized to ``size * scale`` (``scale >= 1``), so
    with ``scale=1`` on a square image the crop only moves along the longer side.
    """
    h, w = img.shape[-2:]
    short = max(size, round(size * scale))
    factor = short / min(h, w)
    nh, nw = max(size, round(h * factor)), max(size, round(w * factor))
    img = resize(img, (nh, nw))
    top = int(torch.randint(0, nh - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, nw - size + 1, (1,), generator=generator))
    return img[..., top : top + size, left : left + size]


FITS = ("resize", "center", "random")


def to_8bit(img: torch.Tensor) -> torch.Tensor:
    """Round ``[0, 1]`` values to the 256 levels of an 8-bit image (``k / 255``)."""
    return torch.round(img.clamp(0, 1) * 255.0) / 255.0


def fit_image(
    img: torch.Tensor, size: int | None, fit: str = "center", generator: torch.Generator | None = None
) -> torch.Tensor:
    """Bring an image to ``size x size`` by ``fit``: ``resize`` (squash), ``center`` or ``random`` crop.

    A resized photo is rounded to 8 bits again, as if it had been saved at that size: the training sets are
    stored so, and binary codes such as LBP flip on sub-level differences (14% of the LBP codes of
    BSDS photos resized to 224 px change between float and 8-bit pixels), so a decoder must see at use
    what it saw in training. Images already at ``size`` pass through unchanged.
    """
    if size is None:
        return img
    if tuple(img.shape[-2:]) == (size, size):
        return img
    if fit == "resize":
        return to_8bit(resize(img, size))
    if fit == "center":
        return to_8bit(center_crop(img, size))
    if fit == "random":
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        return to_8bit(random_crop(img, size, gen))
    raise PreimageError(f"unknown fit {fit!r}: use one of {', '.join(FITS)}")


def save_image(img: torch.Tensor, path: str | Path) -> Path:
    """Write an RGB ``(3, H, W)`` or gray ``(1, H, W)`` tensor in ``[0, 1]`` as an 8-bit PNG."""
    path = Path(path)
    arr = (img.detach().float().clamp(0, 1).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    with atomic_path(path) as tmp:  # a crash or a second writer never leaves half a PNG under the name
        Image.fromarray(arr).save(tmp, format="PNG")
    return path


def rotate_hue(img: torch.Tensor, degrees: float) -> torch.Tensor:
    """The image with every pixel's hue turned by ``degrees`` (HSV, scikit-image's conversion); saturation and
    value stay, so a red apple at 120 degrees is the same apple in green.

    Shape:
        - ``img``: :math:`(3, H, W)` or :math:`(N, 3, H, W)` in ``[0, 1]``. Output: the same.
    """
    from skimage.color import hsv2rgb, rgb2hsv

    if img.dim() not in (3, 4) or img.shape[-3] != 3:
        raise PreimageError(f"rotate_hue needs RGB images (3, H, W) or (N, 3, H, W), got {tuple(img.shape)}")
    hsv = rgb2hsv(img.detach().cpu().double().clamp(0, 1).movedim(-3, -1).numpy(), channel_axis=-1)
    hsv[..., 0] = (hsv[..., 0] + degrees / 360.0) % 1.0
    rgb = hsv2rgb(hsv, channel_axis=-1)
    return torch.from_numpy(rgb).movedim(-1, -3).to(img.dtype)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)`` images, normalised taps out to ``3 sigma``, mirrored borders
    (``d c b | a b c d``, scipy's ``mode="mirror"``): a constant stays the same constant."""
    radius = max(1, math.ceil(3 * sigma))
    if min(images.shape[-2:]) <= radius:
        raise PreimageError(f"a Gaussian blur of sigma {sigma} needs images larger than {radius} px per side")
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    taps = torch.exp(-(x**2) / (2 * sigma**2))
    taps = taps / taps.sum()
    n, c, h, w = images.shape
    flat = F.pad(images.reshape(n * c, 1, h, w), (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(F.conv2d(flat, taps.view(1, 1, 1, -1)), taps.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)
