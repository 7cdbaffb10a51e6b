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
import math
import threading

import numpy as np
import torch

from preimage.errors import PreimageError
from preimage.representations.base import Representation, as_hw, register_representation, rgb_to_gray
from preimage.representations.hog import in_chunks

LBP_DIM = 58
# pixels per call: enough that the ~40 torch calls per chunk cost little beside the per-pixel passes (each
# thread keeps its ~30 B/pixel of buffers between calls, see _scratch)
LBP_CHUNK_PIXELS = 8 * 64 * 1024
# a block's four vote moments share one int64 in 16-bit lanes while their largest (sum of a * b over a
# block of cell^2 pixels, offsets below cell) fits: c^2 (c - 1)^2 < 2^16 up to c = 16; 32-bit lanes in two
# words beyond, up to c = 128 (c^2 (c - 1)^2 < 2^31)
MAX_CELL_SIZE = 128
# the most one scratch buffer keeps between calls (per thread): a chunk of LBP_CHUNK_PIXELS needs ~4 MB
SCRATCH_KEEP_BYTES = 64 * 2**20


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


def _vlfeat_lower_cell(y: int, cell: int) -> tuple[int, np.float32]:
    """Pixel ``y``'s lower cell ``c1`` (-1 before the first cell centre) and the upper cell's weight, in float32
    as ``vl_lbp_process`` computes them; the lower cell gets ``1 - weight``."""
    wy = np.float32((np.float32(y) + np.float32(0.5)) / np.float32(cell) - np.float32(0.5))
    c1 = int(np.floor(wy))
    return c1, np.float32(wy - np.float32(c1))


@functools.cache
def _lbp_voting_matrix(n_pix: int, cell: int) -> np.ndarray:
    """``(n_pix // cell, n_pix - 2)`` bilinear weights for interior pixels, as ``vl_lbp_process``."""
    n_cells = n_pix // cell
    out = np.zeros((n_cells, n_pix - 2), dtype=np.float64)
    for col, y in enumerate(range(1, n_pix - 1)):
        c1, w2 = _vlfeat_lower_cell(y, cell)
        if c1 >= n_cells:
            continue  # VLFeat drops the pixel row/column entirely
        if c1 >= 0:
            out[c1, col] += np.float32(np.float32(1.0) - w2)
        if c1 + 1 < n_cells:
            out[c1 + 1, col] += w2
    return out


# (dy, dx) of bits 0..7: E, SE, S, SW, W, NW, N, NE (y axis down), as vl_lbp_process
_NEIGHBOURS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))


_SCRATCH = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A per-thread buffer of ``shape`` kept across calls, for intermediates only (never returned).

    Multi-MB per-pixel buffers allocated afresh on every call go back to the OS when freed and are
    page-faulted in again on the next call; on a 2-core CPU that cost more than the LBP's arithmetic.
    """
    buffers: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = _SCRATCH.__dict__.setdefault("buffers", {})
    numel, key = math.prod(shape), (name, dtype, device)
    if numel * dtype.itemsize > SCRATCH_KEEP_BYTES:  # one huge image: allocation is cheap beside its work
        return torch.empty(shape, dtype=dtype, device=device)
    if key not in buffers or buffers[key].numel() < numel:
        buffers[key] = torch.empty(numel, dtype=dtype, device=device)
    return buffers[key][:numel].view(shape)


def _add_codes(gray: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Add the 8-bit LBP string of every pixel of ``(B, 1, H, W)`` to ``out``, a float ``(B * H * W,)``.

    The batch is compared as one flat vector against itself shifted by each neighbour's offset: one
    contiguous pass per neighbour, not a strided one per image row. Only pixels whose eight neighbours lie
    inside the flat batch get their code (the first row of the first image and the last of the last keep
    ``out`` as it is); border pixels get meaningless codes (neighbours wrap into the next row or image),
    so callers give them no vote. Comparisons are written as float 0/1: a bool or integer output takes
    several times longer on CPU.
    """
    _, _, _, w = gray.shape
    flat = gray.reshape(-1)
    span = flat.numel() - 2 * (w + 1)
    centre, bit_value = flat[w + 1 : w + 1 + span], _scratch("bit", (span,), out.dtype, gray.device)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        start = w + 1 + dy * w + dx
        torch.gt(flat[start : start + span], centre, out=bit_value)
        out[w + 1 : w + 1 + span].add_(bit_value, alpha=1 << bit)
    return out


def lbp_codes(gray: torch.Tensor) -> torch.Tensor:
    """8-bit LBP string of every interior pixel: ``(B, 1, H, W)`` -> ``(B, H - 2, W - 2)`` uint8."""
    b, _, h, w = gray.shape
    codes = _add_codes(gray, torch.zeros(b * h * w, device=gray.device))
    return codes.view(b, h, w)[:, 1:-1, 1:-1].to(torch.uint8)


@functools.cache
def _axis_blocks(n_pix: int, cell: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per position along one axis: its block (VLFeat's lower cell ``c1`` plus one, ``0 .. n_cells``; -1 for
    positions that do not vote) and its offset ``a`` in the block, the upper cell's weight being
    ``(2 a + p) / 2c`` with ``p = (c + 1) mod 2``; and the number of cells."""
    n_cells = n_pix // cell
    block, offset = np.full(n_pix, -1, np.int64), np.zeros(n_pix, np.int64)
    parity = (cell + 1) % 2
    for y in range(1, n_pix - 1):
        c1, upper_weight = _vlfeat_lower_cell(y, cell)
        if c1 < n_cells:  # VLFeat drops the pixels past the last cell
            block[y], offset[y] = c1 + 1, (round(float(upper_weight) * 2 * cell) - parity) // 2
    return block, offset, n_cells


@functools.lru_cache(maxsize=8)
def _block_tables(
    h: int, w: int, cell: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
    """Per pixel of an ``H x W`` image: the first of its block's 256 code slots (``256 * block``) as float,
    and its packed moments ``1, a, b, a * b`` (16- or 32-bit lanes in one or two int64 words, ``(words, H *
    W)``; zero for pixels that do not vote); their sums per block ``(words, blocks)``; and the cell grid."""
    by, ay, rows = _axis_blocks(h, cell)
    bx, ax, cols = _axis_blocks(w, cell)
    lane = 16 if cell <= 16 else 32
    votes = (by[:, None] >= 0) & (bx[None, :] >= 0)
    first_slot = np.where(votes, by[:, None] * (cols + 1) + bx[None, :], 0).reshape(-1) * 256
    moments = [np.ones((h, w), np.int64), *np.broadcast_arrays(ay[:, None], ax[None]), ay[:, None] * ax[None]]
    words = [sum(m << (lane * k) for k, m in enumerate(moments[i : i + 64 // lane])) for i in range(0, 4, 64 // lane)]
    packed = np.stack([np.where(votes, word, 0).reshape(-1) for word in words])
    totals = np.zeros((len(words), (rows + 1) * (cols + 1)), np.int64)
    for totals_word, packed_word in zip(totals, packed, strict=True):
        np.add.at(totals_word, first_slot // 256, packed_word)
    # slots are summed with the codes in float: float32 is exact below 2^24
    slot_type = np.float32 if 256 * totals.shape[1] < 2**24 else np.float64
    slots = torch.from_numpy(first_slot.astype(slot_type)).to(device)
    return slots, torch.from_numpy(packed).to(device), torch.from_numpy(totals).to(device), rows, cols


@functools.cache
def _uniform_codes() -> tuple[int, ...]:
    """The code of each of bins 0..55 (one uniform string each), then 0x00 and 0xFF (both bin 56)."""
    table = uniform_mapping()
    return (*(int(np.flatnonzero(table == k)[0]) for k in range(56)), 0x00, 0xFF)


@functools.lru_cache(maxsize=4)
def _uniform_codes_tensor(device: torch.device) -> torch.Tensor:
    """:func:`_uniform_codes` on ``device``, built once."""
    return torch.as_tensor(_uniform_codes(), device=device)


def _bin_moments(packed: torch.Tensor, totals: torch.Tensor) -> torch.Tensor:
    """``(words, B, blocks, 256)`` packed moments per raw code -> ``(words, B, blocks, 58)`` per uniform bin.

    The non-uniform bin is the block's total (geometry only: ``totals``, ``(words, blocks)``) less the
    others; lanes never carry into each other, since a block's moments summed over all codes fit them.
    """
    codes = _uniform_codes_tensor(packed.device)
    binned = torch.gather(packed, 3, codes.expand(*packed.shape[:3], -1))  # 2-3x faster than index_select
    binned[..., 56] += binned[..., 57]  # 0xFF joins 0x00
    binned[..., 57] = totals[:, None] - binned[..., :57].sum(3)
    return binned


def lbp_histograms(gray: torch.Tensor, cell: int) -> torch.Tensor:
    """VLFeat's bilinear cell histograms over the 58 uniform bins of gray ``(B, 1, H, W)``: ``(B, 58, rows,
    cols)`` in ``gray``'s floating dtype (float32 for integer input).

    A pixel's four bilinear votes are bilinear in its offsets ``a, b`` inside its block (the pixels between
    four cell centres), so per (block, image, code) it suffices to sum ``1, a, b, a * b``: one integer
    ``scatter_add`` of the four moments packed into one int64 (lanes, exact), not four float scatters.
    """
    b, _, h, w = gray.shape
    dtype = gray.dtype if gray.is_floating_point() else torch.float32
    slots, values, totals, rows, cols = _block_tables(h, w, cell, gray.device)
    blocks, words = (rows + 1) * (cols + 1), values.shape[0]
    slot = _scratch("slot", (b, h * w), slots.dtype, gray.device).copy_(slots.expand(b, -1))
    _add_codes(gray, slot.view(-1))
    # float -> int64 via int32: 3x faster than directly
    index = _scratch("index", (b, h * w), torch.int64, gray.device)
    index.copy_(_scratch("index32", (b, h * w), torch.int32, gray.device).copy_(slot))
    packed = _scratch("packed", (words, b, blocks * 256), torch.int64, gray.device).zero_()
    for word in range(words):  # one row per image: the scatter runs in parallel over the images
        packed[word].scatter_add_(1, index, values[word].expand(b, -1))
    binned = _bin_moments(packed.view(words, b, blocks, 256), totals)
    lanes = binned.view(torch.uint16 if words == 1 else torch.int32).view(words, b, rows + 1, cols + 1, LBP_DIM, -1)
    # N, sum a, sum b, sum a b: integers below 2^24 up to c = 16, exact in float32
    moments = lanes.to(torch.float64 if cell > 16 else torch.float32)
    n, sum_a, sum_b, sum_ab = (moments[k // 2, ..., k % 2] if words == 2 else moments[0, ..., k] for k in range(4))
    return _cells_from_moments(n, sum_a, sum_b, sum_ab, cell).to(dtype).permute(0, 3, 1, 2)


def _cells_from_moments(
    n: torch.Tensor, sum_a: torch.Tensor, sum_b: torch.Tensor, sum_ab: torch.Tensor, cell: int
) -> torch.Tensor:
    """Cell histograms ``(B, rows, cols, 58)`` from each block's moments ``N, sum a, sum b, sum a b``, each
    ``(B, rows + 1, cols + 1, 58)``.

    Along an axis, a pixel at offset ``a`` in its block gives ``(q - 2a) / 2c`` to the lower cell and
    ``(p + 2a) / 2c`` to the upper (``p = (c + 1) mod 2``, ``q = 2c - p``); cell ``j`` gathers the lower votes
    of block ``j + 1`` and the upper votes of block ``j``. Applied along columns, then rows (separable).
    """
    p = (cell + 1) % 2
    q = 2 * cell - p

    def along(order0: torch.Tensor, order1: torch.Tensor, dim: int) -> torch.Tensor:
        """Cell j along ``dim``: (q - 2o) summed over block j + 1 plus (p + 2o) over block j, from the blocks'
        moments of order 0 and 1 in the offset o."""
        cells = order0.shape[dim] - 1
        next0, next1 = order0.narrow(dim, 1, cells), order1.narrow(dim, 1, cells)
        this0, this1 = order0.narrow(dim, 0, cells), order1.narrow(dim, 0, cells)
        return (next0 * q).sub_(next1, alpha=2).add_(this0, alpha=p).add_(this1, alpha=2)

    by_n, by_a = along(n, sum_b, 2), along(sum_a, sum_ab, 2)  # columns done, moments 1 and a left
    return along(by_n, by_a, 1).div_((2 * cell) ** 2)


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
    if cell_size > MAX_CELL_SIZE:
        raise PreimageError(f"lbp: cell size {cell_size} is above {MAX_CELL_SIZE} — use a smaller cell")
    hist = lbp_histograms(gray, cell_size)
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
