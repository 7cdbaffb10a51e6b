"""VLFeat's uniform local binary patterns (``vl_lbp``), batched in PyTorch.

Per interior pixel, the 8 neighbours are compared with the centre (strictly
greater -> 1), bit 0 = east, then clockwise on screen (south-east, south,
south-west, west, north-west, north, north-east; y axis down). The 8-bit string is quantised into 58
bins, VLFeat 0.9.21's uniform mapping: the 56 strings with one run of 1..7
consecutive ones (bin ``7 * start + (run - 1)``), all-zeros/all-ones (bin 56),
and every non-uniform string (bin 57). Pixels vote bilinearly into cells of
``c`` pixels (pixel ``y`` sits at ``(y + 0.5) / c - 0.5`` cell units; ``H // c`` cells),
and each cell histogram ``h`` becomes ``sqrt(h) / (sqrt(sum h) + 1e-10)``.

Input range does not matter (only comparisons are made); the gray image is
``Y = 0.299 R + 0.587 G + 0.114 B`` of ``[0, 1]`` RGB. Not differentiable.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from preimage.errors import PreimageError
from preimage.representations.base import Representation, as_hw, register_representation, rgb_to_gray
from preimage.representations.hog import in_chunks

LBP_DIM = 58
# LBP's per-pixel work is a few byte-wide passes and one scatter: slices 16x larger than HOG's keep the
# per-call overhead small, and still bound the (B, 4, H, W) vote indices to ~32 MB
LBP_CHUNK_PIXELS = 256 * 64 * 64


@functools.cache
def uniform_mapping() -> np.ndarray:
    """The 256 -> 58 table of VLFeat's ``VlLbpUniform`` (non-transposed images)."""
    table = np.full(256, 57, dtype=np.int64)
    table[0x00] = table[0xFF] = 56
    for start in range(8):
        for run in range(1, 8):
            string = ((1 << run) - 1) << start
            string = (string | (string >> 8)) & 0xFF
            table[string] = start * 7 + (run - 1)
    return table


@functools.cache
def _lbp_voting_matrix(n_pix: int, cell: int) -> np.ndarray:
    """``(n_pix // cell, n_pix - 2)`` bilinear weights for interior pixels, as ``vl_lbp_process``."""
    n_cells = n_pix // cell
    out = np.zeros((n_cells, n_pix - 2), dtype=np.float64)
    for col, y in enumerate(range(1, n_pix - 1)):
        wy = np.float32((np.float32(y) + np.float32(0.5)) / np.float32(cell) - np.float32(0.5))
        c1 = int(np.floor(wy))
        w2 = np.float32(wy - np.float32(c1))
        w1 = np.float32(np.float32(1.0) - w2)
        if c1 >= n_cells:
            continue  # VLFeat drops the pixel row/column entirely
        if c1 >= 0:
            out[c1, col] += w1
        if c1 + 1 < n_cells:
            out[c1 + 1, col] += w2
    return out


# (dy, dx) of bits 0..7: E, SE, S, SW, W, NW, N, NE (y axis down), as vl_lbp_process
_NEIGHBOURS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))


def lbp_codes(gray: torch.Tensor) -> torch.Tensor:
    """8-bit LBP string of every interior pixel: ``(B, 1, H, W)`` -> ``(B, H - 2, W - 2)`` uint8."""
    g = gray[:, 0]
    h, w = g.shape[-2:]
    centre = g[:, 1:-1, 1:-1]
    code = torch.zeros(centre.shape, dtype=torch.uint8, device=g.device)
    above = torch.empty(centre.shape, dtype=torch.bool, device=g.device)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        torch.gt(g[:, 1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx], centre, out=above)
        code |= above.view(torch.uint8) << bit  # a bool is one byte 0/1: reinterpreted, not converted
    return code


@functools.cache
def axis_votes(n_pix: int, cell: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Each interior pixel's two cells and weights along one axis, ``(2, n_pix - 2)`` each (weight 0 on cell 0
    where it has fewer), and the number of cells."""
    matrix = _lbp_voting_matrix(n_pix, cell)
    cells, weights = np.zeros((2, n_pix - 2), np.int64), np.zeros((2, n_pix - 2), np.float32)
    for p in range(n_pix - 2):
        for j, c in enumerate(np.flatnonzero(matrix[:, p])):
            cells[j, p], weights[j, p] = c, matrix[c, p]
    return cells, weights, matrix.shape[0]


@functools.cache
def _cell_votes(h: int, w: int, cell: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Each interior pixel's four bilinear votes: cell index ``row * cols + col`` and weight, ``(4, h-2, w-2)``
    each (a pixel with fewer votes gets weight 0 on cell 0), and the cell grid ``(rows, cols)``."""
    yc, yw, rows = axis_votes(h, cell)
    xc, xw, cols = axis_votes(w, cell)
    index = (yc[:, None, :, None] * cols + xc[None, :, None, :]).reshape(4, h - 2, w - 2)
    weight = (yw[:, None, :, None] * xw[None, :, None, :]).reshape(4, h - 2, w - 2)
    return torch.from_numpy(index), torch.from_numpy(weight), rows, cols


def lbp_histograms(code: torch.Tensor, h: int, w: int, cell: int, dtype: torch.dtype) -> torch.Tensor:
    """Bilinear cell histograms of 8-bit codes ``(B, h-2, w-2)`` over the 58 uniform bins: ``(B, 58, rows, cols)``.

    One ``scatter_add`` of four votes per pixel into 256 raw-code bins per cell, then the 256 -> 58 mapping
    as a sum over the (few) cells: cheaper than mapping every pixel's code first (a gather per pixel).
    """
    index, weight, rows, cols = _cell_votes(h, w, cell)
    b, dev = code.shape[0], code.device
    n_cells = rows * cols
    slot = (code.long() * n_cells)[:, None] + index.to(dev)  # (B, 4, h-2, w-2): raw code, then cell
    votes = weight.to(dev, dtype).expand(b, -1, -1, -1)
    raw = torch.zeros(b, 256 * n_cells, dtype=dtype, device=dev).scatter_add_(1, slot.view(b, -1), votes.reshape(b, -1))
    table = torch.as_tensor(uniform_mapping(), device=dev)
    hist = torch.zeros(b, LBP_DIM, n_cells, dtype=dtype, device=dev).index_add_(1, table, raw.view(b, 256, n_cells))
    return hist.view(b, LBP_DIM, rows, cols)


def lbp_uniform(images: torch.Tensor, cell_size: int = 16) -> torch.Tensor:
    """VLFeat uniform LBP of RGB images in ``[0, 1]``.

    Shape:
        - Input: :math:`(B, 3, H, W)`.
        - Output: :math:`(B, 58, H // c, W // c)`; ``(B, 58, 4, 4)`` for 64x64 with ``c = 16``.

    Example:
        >>> lbp_uniform(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 58, 4, 4])
    """
    return in_chunks(lambda x: lbp_uniform_gray(rgb_to_gray(x), cell_size), images, LBP_CHUNK_PIXELS)


def lbp_uniform_gray(gray: torch.Tensor, cell_size: int = 16) -> torch.Tensor:
    """:func:`lbp_uniform` on gray ``(B, 1, H, W)`` images."""
    _, _, h, w = gray.shape
    if h // cell_size < 1 or w // cell_size < 1 or h < 3 or w < 3:
        raise PreimageError(f"lbp: image {h}x{w} is smaller than one cell of {cell_size} px — resize it")
    dtype = gray.dtype if gray.is_floating_point() else torch.float32
    hist = lbp_histograms(lbp_codes(gray), h, w, cell_size, dtype)
    return torch.sqrt(hist) / (torch.sqrt(hist.sum(dim=1, keepdim=True)) + 1e-10)


@functools.cache
def _mirror_bins() -> tuple[int, ...]:
    """Bin ``k`` of an image -> its bin in the horizontally mirrored image.

    Mirroring swaps east and west neighbours: bit ``i`` (E, SE, S, SW, W, NW, N, NE) becomes bit
    ``(4 - i) mod 8``, a reflection of the circular string, so a run of ``r`` ones starting at bit ``s``
    becomes the run of ``r`` ones starting at ``(5 - s - r) mod 8``; flat (56) and non-uniform (57) stay.
    """
    perm = [0] * LBP_DIM
    for start in range(8):
        for run in range(1, 8):
            perm[((5 - start - run) % 8) * 7 + (run - 1)] = start * 7 + (run - 1)
    perm[56], perm[57] = 56, 57
    return tuple(perm)


def flip_lbp_code(code: torch.Tensor) -> torch.Tensor:
    """The uniform LBP of the horizontally mirrored image, computed from the LBP itself.

    Bins are permuted (:func:`_mirror_bins`) and the cell grid mirrored. Exact when the image width is a
    multiple of the cell size (then the bilinear cell voting is mirror-symmetric too); the strict ``>``
    of every comparison is unchanged by mirroring, so ties cannot break it.

    Shape:
        - Input: :math:`(B, 58, h, w)`. Output: the same.
    """
    if code.dim() != 4 or code.shape[1] != LBP_DIM:
        raise PreimageError(f"flip_lbp_code expects (B, {LBP_DIM}, h, w) uniform LBP codes, got {tuple(code.shape)}")
    return code[:, list(_mirror_bins())].flip(-1)


class LBP(Representation):
    """Uniform LBP (VLFeat) as a module.

    Shape:
        - Input: :math:`(B, 3, H, W)` RGB in ``[0, 1]``.
        - Output: :math:`(B, 58, H // 16, W // 16)` with the defaults.
    """

    name = "lbp"
    kind = "lbp"
    differentiable = False

    def __init__(self, cell_size: int = 16, backend: str = "torch") -> None:
        super().__init__()
        self.cell_size, self.backend = cell_size, backend

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        h, w = as_hw(image_size)
        return (LBP_DIM, h // self.cell_size, w // self.cell_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        if self.backend == "vlfeat":
            from preimage.representations.vlfeat import vl_lbp

            gray = rgb_to_gray(images.detach().float()).cpu().numpy()
            out = np.stack([vl_lbp(g[0], self.cell_size) for g in gray])
            return torch.from_numpy(out).to(images.device, images.dtype)
        return lbp_uniform(images.detach(), self.cell_size)

    def flip_code(self, code: torch.Tensor) -> torch.Tensor:
        """The code of the mirrored image (:func:`flip_lbp_code`; exact for widths that are whole cells)."""
        return flip_lbp_code(code)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, backend={self.backend!r}"


@register_representation("lbp", "VLFeat uniform LBP, cell 16, 58 dims per cell")
def _lbp(backend: str = "torch", cell_size: int = 16) -> Representation:
    return LBP(cell_size=cell_size, backend=backend)
