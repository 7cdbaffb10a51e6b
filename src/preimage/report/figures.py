"""Image grids, texture statistics and small plots shared by the commands, experiments and the report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from preimage.data import save_image
from preimage.files import atomic_path


def grid(images: torch.Tensor, columns: int | None = None, pad: int = 2, value: float = 1.0) -> torch.Tensor:
    """Tile ``(N, 3, H, W)`` images into one ``(3, H', W')`` image, row-major, with a white gutter."""
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    out = torch.full((c, rows * (h + pad) + pad, columns * (w + pad) + pad), value)
    for i in range(n):
        r, col = divmod(i, columns)
        out[
            :,
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + col * (w + pad) : pad + col * (w + pad) + w,
        ] = images[i].clamp(0, 1)
    return out


def save_grid(images: torch.Tensor, path: str | Path, columns: int | None = None, scale: int = 1) -> Path:
    img = grid(images, columns)
    if scale > 1:
        img = torch.nn.functional.interpolate(img[None], scale_factor=scale, mode="nearest")[0]
    return save_image(img, path)


def captioned_grid(
    images: torch.Tensor, captions: Sequence[str], path: str | Path, columns: int = 8, scale: int = 3
) -> Path:
    """Save images ``(N, 3, H, W)`` in a grid with a caption (wrapped at ':') under every tile."""
    n = images.shape[0]
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    h, w = images.shape[-2] * scale, images.shape[-1] * scale
    cap_h, pad = 26, 4
    canvas = Image.new("RGB", (columns * (w + pad), rows * (h + cap_h)), "white")
    draw = ImageDraw.Draw(canvas)
    for i in range(n):
        x0, y0 = (i % columns) * (w + pad), (i // columns) * (h + cap_h)
        arr = (images[i].clamp(0, 1).numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
        canvas.paste(Image.fromarray(arr).resize((w, h), Image.Resampling.NEAREST), (x0, y0))
        for j, line in enumerate(captions[i].split(": ")):
            draw.text((x0 + 2, y0 + h + 1 + 12 * j), line, fill="black" if j == 0 else "red")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def labelled_rows(rows: Sequence[torch.Tensor], labels: Sequence[str], path: str | Path, scale: int = 2) -> Path:
    """Save rows of images (each ``(N, 3, H, W)``) with a text label left of every row."""
    tiles = [grid(r, columns=r.shape[0]) for r in rows]
    width = max(t.shape[-1] for t in tiles)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # the label column fits the longest label (in canvas pixels, 8 of margin), at least 60 tile pixels
    label_w = max(60, -(-(max((int(measure.textlength(t)) for t in labels), default=0) + 8) // scale))
    height = sum(t.shape[-2] for t in tiles)
    canvas = Image.new("RGB", ((width + label_w) * scale, height * scale), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for tile, label in zip(tiles, labels, strict=True):
        arr = (tile.clamp(0, 1).numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
        im = Image.fromarray(arr).resize((tile.shape[-1] * scale, tile.shape[-2] * scale), Image.Resampling.NEAREST)
        canvas.paste(im, (label_w * scale, y * scale))
        draw.text((4, y * scale + tile.shape[-2] * scale // 2 - 6), label, fill="black")
        y += tile.shape[-2]
    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


def colour_count(image: torch.Tensor, levels: int = 8, min_fraction: float = 0.002) -> int:
    """Distinct colours after quantising each channel to ``levels`` values, ignoring rare ones."""
    q = (image.clamp(0, 1) * (levels - 1) + 0.5).long()
    codes = (q[0] * levels + q[1]) * levels + q[2]
    counts = torch.bincount(codes.flatten(), minlength=levels**3)
    return int((counts >= max(1, min_fraction * codes.numel())).sum())


def colourfulness(image: torch.Tensor) -> float:
    """Hasler & Süsstrunk's colourfulness metric on a ``(3, H, W)`` image in ``[0, 1]`` (0-255 scale)."""
    r, g, b = (image.clamp(0, 1) * 255).double()
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def high_frequency_energy(image: torch.Tensor, cutoff: float = 0.25) -> float:
    """Fraction of the (non-DC) spectral power of the gray image above ``cutoff`` cycles/pixel."""
    gray = image.mean(0).double()
    gray = gray - gray.mean()
    power = torch.fft.fftshift(torch.fft.fft2(gray)).abs() ** 2
    h, w = gray.shape
    fy = torch.fft.fftshift(torch.fft.fftfreq(h, dtype=torch.float64))[:, None]
    fx = torch.fft.fftshift(torch.fft.fftfreq(w, dtype=torch.float64))[None, :]
    radius = torch.sqrt(fx**2 + fy**2)
    total = power.sum()
    return float(power[radius > cutoff].sum() / total) if total > 0 else 0.0


def structure_size(image: torch.Tensor, level: float = 0.5) -> float:
    """How large the image's structures are: the radius in pixels at which the radially averaged
    autocorrelation of its mean-subtracted gray image first falls to ``level`` (linear interpolation).

    Linear (zero-padded) autocorrelation, each lag divided by its overlap, so the image is not treated as
    periodic. Gaussian-blurred white noise of std ``s`` px has a Gaussian autocorrelation of std ``s * sqrt(2)``,
    which falls to 0.5 at ``2 s sqrt(ln 2) = 1.67 s``. Capped at half the image's shorter side (returned when
    it never falls that low there: structures that large fill the image), and ``0`` for a flat image. Lags are
    binned by rounded radius (1 and 1.41 px share a bin), which biases sizes of 1-2 px slightly.
    """
    gray = image.mean(0).double()
    gray = gray - gray.mean()
    h, w = gray.shape
    if float(gray.pow(2).sum()) == 0.0:
        return 0.0
    spectrum = torch.fft.rfft2(gray, s=(2 * h, 2 * w))
    auto = torch.fft.irfft2(spectrum.abs() ** 2, s=(2 * h, 2 * w))
    ones = torch.fft.rfft2(torch.ones_like(gray), s=(2 * h, 2 * w))
    overlap = torch.fft.irfft2(ones.abs() ** 2, s=(2 * h, 2 * w)).clamp_min(1.0)
    auto = auto / overlap
    auto = auto / auto[0, 0]
    dy = torch.fft.fftfreq(2 * h, 1 / (2 * h), dtype=torch.float64).abs()[:, None]
    dx = torch.fft.fftfreq(2 * w, 1 / (2 * w), dtype=torch.float64).abs()[None, :]
    radius = torch.sqrt(dx**2 + dy**2).round().long()
    limit = min(h, w) // 2
    keep = radius <= limit
    sums = torch.bincount(radius[keep], weights=auto[keep], minlength=limit + 1)
    counts = torch.bincount(radius[keep], minlength=limit + 1).clamp_min(1)
    profile = (sums / counts).tolist()
    for r in range(1, limit + 1):
        if profile[r] <= level:
            a, b = profile[r - 1], profile[r]
            return float(r - 1 + (a - level) / (a - b))
    return float(limit)


def _save_png(fig: Any, path: str | Path) -> Path:
    """Lay out and write a matplotlib figure as PNG, atomically, and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def line_plot(
    xs: Sequence[str],
    series: Mapping[str, Sequence[float]],
    path: str | Path,
    ylabel: str,
    title: str = "",
    references: Mapping[str, float] | None = None,
) -> Path:
    """A small matplotlib line plot saved as PNG (Agg backend, no display needed); ``references`` are drawn as
    labelled dashed horizontal lines (values that do not depend on x, such as an oracle's score)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4), dpi=110)
    for name, ys in series.items():
        ax.plot(list(xs), list(ys), marker="o", label=name)
    for (name, value), colour in zip((references or {}).items(), ("0.35", "0.55", "0.75", "0.85"), strict=False):
        ax.axhline(value, linestyle="--", linewidth=1, color=colour, label=name)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(series) + len(references or {}) > 1:
        ax.legend(fontsize="small")
    return _save_png(fig, path)


def xy_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    marks: Mapping[str, Mapping[str, tuple[float, float]]] | None = None,
) -> Path:
    """Curves of y against numeric x saved as PNG (Agg backend). ``marks`` maps a label to points keyed by curve
    name: each label gets one marker (a star, then a hollow circle, ...), drawn in its curve's colour and
    labelled ``"<curve> <label>"``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, (xs, ys) in curves.items():
        (line,) = ax.plot(list(xs), list(ys), marker=".", label=name)
        for (label, points), marker in zip((marks or {}).items(), ("*", "o", "s", "^"), strict=False):
            if name in points:
                x, y = points[name]
                face = line.get_color() if marker == "*" else "none"
                ax.plot(
                    [x],
                    [y],
                    marker=marker,
                    markersize=11 if marker == "*" else 8,
                    linestyle="",
                    color=line.get_color(),
                    markerfacecolor=face,
                    label=f"{name} {label}",
                )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="xx-small", ncol=2 if marks and len(marks) > 1 else 1)
    return _save_png(fig, path)
