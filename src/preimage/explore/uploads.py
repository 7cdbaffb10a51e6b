"""Uploaded bytes -> an RGB image, or one clear sentence of why not.

Every failure is a :class:`~preimage.errors.PreimageError` whose message the page shows as it is: a file over
the size limit, a decompression bomb (more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS``), something that is
not an image, a truncated or corrupt image. Nothing here opens a path: the bytes come from the request body.
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import cast

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from preimage.data.images import _to_float_rgb
from preimage.errors import PreimageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# above this many pixels the photo is shrunk by an integer factor in 8 bits before it becomes float32 (4 bytes
# a channel): a 20 MB JPEG can hold ~90 megapixels, a gigabyte as float
REDUCE_ABOVE_PIXELS = 16_000_000
# one large decode at a time: several at once could hold gigabytes
_DECODING = threading.Lock()


def too_large(n_bytes: int, limit: int = MAX_UPLOAD_BYTES) -> PreimageError:
    return PreimageError(
        f"the file is {n_bytes / 2**20:.1f} MB; uploads are limited to {limit / 2**20:.0f} MB — "
        "upload a smaller copy (the explorer crops and shrinks every photo to 64 px anyway)"
    )


def decode_upload(data: bytes, name: str, min_side: int = 64) -> tuple[torch.Tensor, tuple[int, int]]:
    """Decode an uploaded image into RGB float ``(3, H, W)`` in ``[0, 1]`` (any mode, EXIF-rotated), and the
    ``(height, width)`` of the photo as uploaded.

    Photos over :data:`REDUCE_ABOVE_PIXELS` are reduced (box filter; 8-bit modes in 8 bits, 16- and 32-bit grey
    in float) by the largest integer factor that keeps their shorter side at least ``4 * min_side``; smaller
    ones are decoded exactly as the CLI does.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large(len(data))
    if not data:
        raise PreimageError(f"{name} is empty — pick an image file (PNG, JPEG, ...)")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with _DECODING, warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: both are refused here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                w, h = opened.size
                if limit is not None and w * h > limit:
                    raise Image.DecompressionBombError(f"{w * h} pixels")
                if w * h > REDUCE_ABOVE_PIXELS and opened.format == "JPEG":
                    opened.draft("RGB", (4 * min_side, 4 * min_side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
                opened.load()
                img: Image.Image = ImageOps.exif_transpose(opened) or opened
                source_hw = (img.size[1], img.size[0])
                factor = min(img.size) // (4 * min_side)
                if img.size[0] * img.size[1] > REDUCE_ABOVE_PIXELS and factor >= 2:
                    arr = _reduced(img, factor)
                else:
                    arr = _to_float_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PreimageError(
            f"{name} would decode to more than {limit:,} pixels (Pillow's decompression-bomb limit) — "
            "upload a smaller image"
        ) from None
    except UnidentifiedImageError:
        raise PreimageError(
            f"{name} is not an image Pillow can read — upload a PNG, JPEG, WebP, GIF, BMP or TIFF"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PreimageError(
            f"{name} is truncated or corrupt ({reason}) — re-export it as PNG or JPEG and upload it again"
        ) from None
    if min(arr.shape[:2]) < 1:
        raise PreimageError(f"{name} has no pixels")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))), source_hw


# grey modes wider than 8 bits, and the value that is white in each ("I": decided by the photo's range)
_WIDE_GREY = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I;16N": 65535.0, "I": 0.0, "F": 1.0}


def _reduced(img: Image.Image, factor: int) -> np.ndarray:
    """``img`` box-reduced by ``factor`` as float RGB ``(H, W, 3)`` in ``[0, 1]``: 16- and 32-bit grey is
    reduced as float and scaled to its own white (an 8-bit conversion would clip it to white), the rest in
    8 bits."""
    if img.mode in _WIDE_GREY:
        high = cast(tuple[float, float], img.getextrema())[1]  # one band: (min, max)
        white = _WIDE_GREY[img.mode] or (65535.0 if high > 255 else 255.0)
        grey = np.clip(np.asarray(img.convert("F").reduce(factor), dtype=np.float32) / white, 0, 1)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA")
    return _to_float_rgb(img.reduce(factor))


def clean_name(raw: str | None, fallback: str = "upload") -> str:
    """A display name from the client's file name: printable, at most 80 characters, never used as a path."""
    if not raw:
        return fallback
    from urllib.parse import unquote

    name = "".join(ch for ch in unquote(raw) if ch.isprintable() and ch not in "/\\<>\"'`")
    return name.rsplit("/", 1)[-1][:80] or fallback


def encode_png(image: torch.Tensor) -> bytes:
    """An RGB ``(3, H, W)`` tensor in ``[0, 1]`` as 8-bit PNG bytes (fast zlib level: these are 64-px images)."""
    arr = (image.detach().float().clamp(0, 1).mul(255).add(0.5).to(torch.uint8)).permute(1, 2, 0).contiguous()
    buf = io.BytesIO()
    Image.fromarray(arr.numpy()).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
