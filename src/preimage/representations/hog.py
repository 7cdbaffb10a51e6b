"""Histograms of oriented gradients in PyTorch: VLFeat's UoCTTI variant and Dalal–Triggs.

Both are batched over ``(B, 3, H, W)`` images in ``[0, 1]``, converted to gray
inside (``Y = 0.299 R + 0.587 G + 0.114 B``, kept in ``[0, 1]``: the range of
``vl_hog(im2single(rgb2gray(I)), 8)`` in MATLAB, which the founding paper used).
They are differentiable with respect to the image almost everywhere: the
orientation bin of a pixel is piecewise constant, its magnitude, the spatial
interpolation, the normalisation and the 0.2 truncation are not.

``hog_uoctti`` reproduces ``vl_hog_put_image`` + ``vl_hog_extract`` of VLFeat
0.9.21 (hard orientation assignment, the library default): central
differences on interior pixels, the gradient assigned to the nearest of 18
directed orientations, bilinear spatial voting into cells of ``c`` pixels with
``(H + c/2) // c`` cells per side, then for every cell four normalisation
factors ``1 / sqrt(|block|^2 + 1e-4)`` from the four 2x2 blocks around it
(edge cells reuse their own norms), truncation at 0.2, and the 31 dimensions::

    0..17   directed orientations, 0.5 * sum of the four truncated normalisations
    18..26  undirected orientations (directed pairs summed before truncation)
    27..30  texture: sum over undirected bins per block, / sqrt(18)

``hog_dalal_triggs`` reproduces ``skimage.feature.hog`` (9 unsigned bins, no
interpolation, ``H // c`` cells, blocks of ``b x b`` cells with L2-Hys).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from preimage.errors import PreimageError
from preimage.representations.base import Representation, as_hw, register_representation, rgb_to_gray


class _SafeSqrt(torch.autograd.Function):
    """``sqrt`` whose gradient is 0 (not inf/NaN) at 0, where flat image regions sit."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor) -> torch.Tensor:
        out = torch.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return torch.where(out > 0, grad / (2 * out).clamp_min(torch.finfo(out.dtype).tiny), 0.0)


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt`` that is exactly 0 with a zero (not NaN) gradient at 0."""
    if not x.requires_grad:
        return torch.sqrt(x)
    out: torch.Tensor = _SafeSqrt.apply(x)
    return out


@functools.cache
def _voting_matrix(n_pix: int, cell: int, n_cells: int) -> np.ndarray:
    """VLFeat's bilinear spatial weights, ``(n_cells, n_pix - 2)`` for interior pixels 1..n-2.

    Pixel ``x`` sits at ``hx = (x + 0.5) / c - 0.5`` cell units from the first
    cell centre; it votes ``1 - frac(hx)`` to cell ``floor(hx)`` and ``frac(hx)``
    to the next one, when those cells exist. Computed in float32 as VLFeat does.
    """
    x = np.arange(1, n_pix - 1)
    hx = ((x + 0.5) / cell - 0.5).astype(np.float32)
    binx = np.floor(hx).astype(np.int64)
    w2 = (hx - binx.astype(np.float32)).astype(np.float32)
    w1 = (1.0 - w2.astype(np.float64)).astype(np.float32)
    out = np.zeros((n_cells, n_pix - 2), dtype=np.float64)
    cols = np.arange(n_pix - 2)
    keep = binx >= 0
    np.add.at(out, (binx[keep], cols[keep]), w1[keep])
    keep = binx < n_cells - 1
    np.add.at(out, (binx[keep] + 1, cols[keep]), w2[keep])
    return out


@functools.cache
def _two_cell_votes(voting: bytes, n_cells: int, n_pix: int) -> tuple[np.ndarray, np.ndarray]:
    """The (at most two) cells each pixel of a voting matrix votes for: ``(n_pix, 2)`` indices and weights."""
    mat = np.frombuffer(voting, dtype=np.float64).reshape(n_cells, n_pix)
    idx = np.zeros((n_pix, 2), dtype=np.int64)
    wts = np.zeros((n_pix, 2), dtype=np.float64)
    for col in range(n_pix):
        for slot, cell in enumerate(np.nonzero(mat[:, col])[0][:2]):
            idx[col, slot], wts[col, slot] = cell, mat[cell, col]
    return idx, wts


def cell_histograms(
    bins: torch.Tensor, weights: torch.Tensor, num_bins: int, wy: np.ndarray, wx: np.ndarray
) -> torch.Tensor:
    """Bilinear spatial pooling of per-pixel votes into cells, without a one-hot tensor.

    ``bins`` (exact small integers, any dtype) and ``weights`` are ``(B, h, w)``;
    ``wy`` ``(rows, h)`` and ``wx`` ``(cols, w)`` are separable voting matrices in
    which every pixel votes for at most two cells per axis. Along x, one
    ``scatter_add`` adds both votes of every pixel into a ``(B, h, bins, cols)``
    buffer (consecutive pixels write to neighbouring addresses, which keeps the
    scatter cache-friendly); along y, one batched matrix product with ``wy``
    pools rows. Differentiable with respect to ``weights``.

    Returns ``(B, num_bins, rows, cols)``.
    """
    b, h, w = weights.shape
    rows, cols = wy.shape[0], wx.shape[0]
    dev, dt = weights.device, weights.dtype
    xi, xw = _two_cell_votes(np.ascontiguousarray(wx).tobytes(), cols, w)
    per_image = h * num_bins * cols
    # slot index within its image, in float (exact below 2**24; float adds vectorise, int64 ones do not) and
    # converted to int64 once. One row per image lets scatter_add run in parallel over the batch.
    idt = torch.float32 if per_image < 2**24 else torch.float64
    row_base = torch.arange(h, dtype=idt, device=dev).view(1, h, 1) * (num_bins * cols)
    base = torch.add(row_base, bins.to(idt), alpha=cols)
    # the two votes go on a leading axis, (B, 2, h, w): the innermost loops then run over whole pixel rows
    # (vectorised) instead of pairs, which made these two products the slowest steps
    xi_t = torch.from_numpy(np.ascontiguousarray(xi.T)).to(dev, idt).view(1, 2, 1, w)
    xw_t = torch.from_numpy(np.ascontiguousarray(xw.T)).to(dev, dt).view(1, 2, 1, w)
    slot = (base[:, None] + xi_t).long()
    src = weights[:, None] * xw_t
    acc = torch.zeros(b, per_image, dtype=dt, device=dev).scatter_add(1, slot.view(b, -1), src.reshape(b, -1))
    pooled = torch.matmul(torch.from_numpy(wy).to(dev, dt), acc.view(b, h, num_bins * cols))
    return pooled.view(b, rows, num_bins, cols).permute(0, 2, 1, 3)


@functools.cache
def _orientation_axes(num_orientations: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    angles = [o * math.pi / num_orientations for o in range(num_orientations)]
    # float32 rounding of cos/sin as in vl_hog_new, so ties break as in VLFeat
    return (
        tuple(float(np.float32(math.cos(a))) for a in angles),
        tuple(float(np.float32(math.sin(a))) for a in angles),
    )


def hog_cells(size: int | tuple[int, int], cell_size: int = 8) -> tuple[int, int]:
    h, w = as_hw(size)
    return (h + cell_size // 2) // cell_size, (w + cell_size // 2) // cell_size


def hog_uoctti(images: torch.Tensor, cell_size: int = 8, num_orientations: int = 9) -> torch.Tensor:
    """VLFeat's UoCTTI HOG of RGB images in ``[0, 1]``.

    Args:
        images: RGB images in ``[0, 1]``.
        cell_size: cell side in pixels (the paper: 8).
        num_orientations: undirected orientations (the paper: 9 -> 31 dimensions).

    Returns:
        HOG cells, ``3 * num_orientations + 4`` values each.

    Shape:
        - Input: :math:`(B, 3, H, W)`, ``H, W >= 4``.
        - Output: :math:`(B, 3O + 4, (H + c/2) // c, (W + c/2) // c)`; ``(B, 31, 8, 8)`` for 64x64.

    Example:
        >>> hog_uoctti(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 31, 8, 8])
    """
    return in_chunks(lambda x: hog_uoctti_gray(rgb_to_gray(x), cell_size, num_orientations), images)


CHUNK_PIXELS = 16 * 64 * 64


def in_chunks(
    fn: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, pixels: int = CHUNK_PIXELS
) -> torch.Tensor:
    """``fn`` over slices of the batch of about ``pixels`` pixels, concatenated.

    Why: the per-pixel intermediates of a whole batch (tens of MB at 64 x 64 x 64)
    fall out of cache and are fresh allocations that the OS must fault in on
    every call; slices of ~65k pixels stay cache-resident and reuse freed
    memory, which made HOG about 3x faster on a 2-core CPU. Results are
    identical (every image is independent) and gradients flow through ``cat``.
    A slice holds at least one image per thread, since the per-cell pooling runs in
    parallel over the images of a slice. On a GPU there is no such cache to fit, and
    every slice costs kernel launches: one pass.
    """
    per = max(torch.get_num_threads(), pixels // (images.shape[-1] * images.shape[-2]))
    if images.shape[0] <= per or images.device.type != "cpu":
        return fn(images)
    return torch.cat([fn(images[i : i + per]) for i in range(0, images.shape[0], per)])


@torch.no_grad()
def vlfeat_orientation_bins(gx: torch.Tensor, gy: torch.Tensor, num_orientations: int = 9) -> torch.Tensor:
    """Directed orientation bin ``0 .. 2O-1`` (float32) of every gradient, exactly as ``vl_hog_put_image``.

    VLFeat scans the O undirected axes ``u_k = (cos k pi/O, sin k pi/O)`` and keeps
    the first one with the largest ``|g . u_k| / |g|`` (float32), adding O when
    the dot product is negative: the nearest of 2O directed axes. ``atan2`` finds
    that axis for almost every pixel; the few within 1e-3 bin of a boundary
    (exact ties included, such as purely vertical gradients) are re-decided by
    VLFeat's own float32 comparison.
    """
    o = num_orientations
    gx32, gy32 = gx.float(), gy.float()
    t = torch.atan2(gy32, gx32).mul_(o / math.pi)  # directed angle in bin units, [-O, O]
    nearest = torch.floor(t + 0.5)  # halves are re-decided below, so no need for round-half-even
    # -O..-1 -> O..2O-1; both +-O (pointing left) land on bin O. Kept as exact float integers.
    bins = torch.where(nearest < 0, nearest + 2 * o, nearest)
    near = ((t - nearest).abs_() > 0.5 - 1e-3).view(-1).nonzero()[:, 0]
    if near.numel():
        ux, uy = gx32.reshape(-1)[near], gy32.reshape(-1)[near]
        norm = torch.sqrt(ux * ux + uy * uy).clamp_min(1e-10)
        ux, uy = ux / norm, uy / norm
        cos_t, sin_t = _orientation_table(o, gx.device)
        score = ux[:, None] * cos_t + uy[:, None] * sin_t  # (N, O), few rows
        k = score.abs().argmax(dim=1, keepdim=True)  # first maximum, as VLFeat's strict '>' scan
        negative = torch.gather(score, 1, k)[:, 0] < 0
        bins.view(-1)[near] = (k[:, 0] + o * negative.long()).float()
    return bins


@torch.no_grad()
def _shifted_orientation_bins(gx: torch.Tensor, gy: torch.Tensor, num_orientations: int = 9) -> torch.Tensor:
    """:func:`vlfeat_orientation_bins` plus ``O``, in ``0 .. 2O`` (``0`` and ``2O`` are both bin ``O``).

    The shift folds the wrap-around of negative angles into the rounding
    (``floor(t + O + 0.5)``), which saves three passes over the image; the
    two aliases of bin ``O`` are merged after pooling (:func:`_merge_shifted`).
    """
    o = num_orientations
    gx32, gy32 = gx.float(), gy.float()
    u = torch.atan2(gy32, gx32).mul_(o / math.pi).add_(o + 0.5)  # in [0.5, 2O + 0.5]
    shifted = torch.floor(u)
    frac = u.sub_(shifted)  # distance past the lower bin boundary, [0, 1)
    near = (frac.sub_(0.5).abs_() > 0.5 - 1e-3).view(-1).nonzero()[:, 0]
    if near.numel():
        ux, uy = gx32.reshape(-1)[near], gy32.reshape(-1)[near]
        norm = torch.sqrt(ux * ux + uy * uy).clamp_min(1e-10)
        ux, uy = ux / norm, uy / norm
        cos_t, sin_t = _orientation_table(o, gx.device)
        score = ux[:, None] * cos_t + uy[:, None] * sin_t
        k = score.abs().argmax(dim=1, keepdim=True)  # first maximum, as VLFeat's strict '>' scan
        negative = torch.gather(score, 1, k)[:, 0] < 0
        real = k[:, 0] + o * negative.long()
        shifted.view(-1)[near] = torch.where(real < o, real + o, real - o).float()
    return shifted


def _merge_shifted(hist: torch.Tensor, num_orientations: int) -> torch.Tensor:
    """Pooled histograms over shifted bins ``(B, 2O+1, h, w)`` -> directed bins ``(B, 2O, h, w)``."""
    o = num_orientations
    second = hist[:, :o].clone()
    second[:, 0] += hist[:, 2 * o]
    return torch.cat([hist[:, o : 2 * o], second], dim=1)


@functools.cache
def _orientation_table(o: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    cx, sy = _orientation_axes(o)
    return torch.tensor(cx, dtype=torch.float32, device=device), torch.tensor(sy, dtype=torch.float32, device=device)


def hog_uoctti_gray(
    gray: torch.Tensor, cell_size: int = 8, num_orientations: int = 9, bilinear_orientations: bool = False
) -> torch.Tensor:
    """:func:`hog_uoctti` on gray images ``(B, 1, H, W)`` (no colour conversion).

    ``bilinear_orientations=True`` is VLFeat's optional bilinear orientation
    assignment (``vl_hog_set_use_bilinear_orientation_assignments``): each
    gradient splits its magnitude between the two nearest directed bins in
    proportion to the angular distance, which makes the code differentiable in
    the gradient *direction* too.
    """
    if gray.dim() != 4 or gray.shape[1] != 1:
        raise PreimageError(f"hog: expected gray images (B, 1, H, W), got {tuple(gray.shape)}")
    _, _, h, w = gray.shape
    if h < 4 or w < 4 or h < cell_size or w < cell_size:
        raise PreimageError(f"hog: image {h}x{w} is smaller than a cell ({cell_size}) or 4 pixels — resize it")
    o = num_orientations
    hh, hw = hog_cells((h, w), cell_size)
    g = gray[:, 0]
    gx = g[:, 1:-1, 2:] - g[:, 1:-1, :-2]
    gy = g[:, 2:, 1:-1] - g[:, :-2, 1:-1]
    grad = torch.hypot(gx, gy) if not gx.requires_grad else safe_sqrt(gx * gx + gy * gy)
    wy, wx = _voting_matrix(h, cell_size, hh), _voting_matrix(w, cell_size, hw)
    if not bilinear_orientations:
        shifted = _shifted_orientation_bins(gx.detach(), gy.detach(), o)
        return uoctti_normalize(_merge_shifted(cell_histograms(shifted, grad, 2 * o + 1, wy, wx), o), o)
    # angle in bin units from atan2 (differentiable), split between floor(t) and floor(t) + 1
    t = torch.atan2(gy, gx) * (o / math.pi)
    t = torch.where(t < 0, t + 2 * o, t)
    lower = torch.floor(t.detach())
    frac = t - lower
    lower_bin = torch.remainder(lower, 2 * o)
    upper_bin = torch.remainder(lower + 1, 2 * o)
    hist = cell_histograms(lower_bin, grad * (1 - frac), 2 * o, wy, wx)
    hist = hist + cell_histograms(upper_bin, grad * frac, 2 * o, wy, wx)
    return uoctti_normalize(hist, o)


def uoctti_normalize(hist: torch.Tensor, num_orientations: int = 9) -> torch.Tensor:
    """UoCTTI block normalisation of directed cell histograms ``(B, 2O, h, w)`` -> ``(B, 3O+4, h, w)``."""
    o = num_orientations
    directed_a, directed_b = hist[:, :o], hist[:, o:]
    undirected_sum = directed_a + directed_b
    norms = (undirected_sum * undirected_sum).sum(dim=1, keepdim=True)
    padded = F.pad(norms, (1, 1, 1, 1), mode="replicate")
    blocks = padded[..., :-1, :-1] + padded[..., :-1, 1:] + padded[..., 1:, :-1] + padded[..., 1:, 1:]
    inv = torch.rsqrt(blocks + 1e-4)
    # factor 1..4: the up-left, up-right, down-left and down-right 2x2 block around each cell
    factors = torch.stack(
        [inv[..., :-1, :-1], inv[..., :-1, 1:], inv[..., 1:, :-1], inv[..., 1:, 1:]], dim=1
    )  # (B, 4, 1, h, w)
    undirected = undirected_sum
    # one (B, 4, 3O, h, w) product: directed halves and their undirected sum, truncated at 0.2 together
    truncated = (factors * torch.cat([directed_a, directed_b, undirected], dim=1)[:, None]).clamp_(max=0.2)
    texture = truncated[:, :, 2 * o :].sum(dim=2) * (1.0 / math.sqrt(18.0))  # (B, 4, h, w)
    return torch.cat([truncated.sum(1).mul_(0.5), texture], dim=1)


def hog_dalal_triggs(
    images: torch.Tensor,
    cell_size: int = 8,
    cells_per_block: int = 2,
    num_orientations: int = 9,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Dalal–Triggs HOG exactly as ``skimage.feature.hog(..., block_norm="L2-Hys")``.

    Shape:
        - Input: :math:`(B, 3, H, W)` RGB in ``[0, 1]``.
        - Output: :math:`(B, b^2 O, H//c - b + 1, W//c - b + 1)`; channel ``(r * b + s) * O + o``
          is orientation ``o`` of cell ``(r, s)`` of the block, as in skimage's
          ``(n_blocks_row, n_blocks_col, b, b, O)`` array. ``(B, 36, 7, 7)`` for 64x64.
    """
    return hog_dalal_triggs_gray(rgb_to_gray(images), cell_size, cells_per_block, num_orientations, eps)


def hog_dalal_triggs_gray(
    gray: torch.Tensor,
    cell_size: int = 8,
    cells_per_block: int = 2,
    num_orientations: int = 9,
    eps: float = 1e-5,
) -> torch.Tensor:
    """:func:`hog_dalal_triggs` on gray images ``(B, 1, H, W)``."""
    b, _, h, w = gray.shape
    c, nb = cell_size, cells_per_block
    ncr, ncc = h // c, w // c
    if ncr < nb or ncc < nb:
        raise PreimageError(f"hog-dt: image {h}x{w} holds fewer than {nb}x{nb} cells of {c} px — resize it")
    g = gray[:, 0]
    g_row = F.pad(g[:, 2:, :] - g[:, :-2, :], (0, 0, 1, 1))
    g_col = F.pad(g[:, :, 2:] - g[:, :, :-2], (1, 1, 0, 0))
    mag = safe_sqrt(g_row * g_row + g_col * g_col)
    with torch.no_grad():
        # skimage bins angles in float64 degrees against float32 bin edges
        deg = torch.rad2deg(torch.atan2(g_row.double(), g_col.double())) % 180.0
        edges = torch.tensor(
            np.float32(180.0 / num_orientations) * np.arange(1, num_orientations),
            dtype=torch.float64,
            device=g.device,
        )
        bins = torch.bucketize(deg, edges, right=True)
        onehot = F.one_hot(bins, num_orientations).permute(0, 3, 1, 2).to(g.dtype)
    votes = (onehot * mag[:, None])[..., : ncr * c, : ncc * c]
    cells = votes.reshape(b, num_orientations, ncr, c, ncc, c).sum(dim=(3, 5)) / (c * c)
    nbr, nbc = ncr - nb + 1, ncc - nb + 1
    blocks = torch.stack([cells[:, :, r : r + nbr, s : s + nbc] for r in range(nb) for s in range(nb)], dim=1).reshape(
        b, nb * nb * num_orientations, nbr, nbc
    )
    out = blocks / torch.sqrt((blocks**2).sum(dim=1, keepdim=True) + eps**2)
    out = out.clamp(max=0.2)
    return out / torch.sqrt((out**2).sum(dim=1, keepdim=True) + eps**2)


def flip_hog_code(code: torch.Tensor, num_orientations: int = 9) -> torch.Tensor:
    """The UoCTTI HOG of the horizontally mirrored image, computed from the HOG itself.

    Mirroring maps a gradient angle ``t`` to ``pi - t``: directed bin ``k`` (of ``2 O``) goes to
    ``(O - k) mod 2 O``, undirected bin ``k`` (of ``O``) to ``(O - k) mod O``; the four texture
    (block-energy) features swap left and right blocks; the cell grid is mirrored. Exact up to
    ties in VLFeat's hard orientation assignment (a gradient exactly between two bins, such as a
    purely vertical one in a flat uint8 region, goes to the same bin in both images).

    Shape:
        - Input: :math:`(B, 3 O + 4, h, w)`. Output: the same.
    """
    o = num_orientations
    if code.dim() != 4 or code.shape[1] != 3 * o + 4:
        raise PreimageError(f"flip_hog_code expects (B, {3 * o + 4}, h, w) UoCTTI codes, got {tuple(code.shape)}")
    perm = [(o - k) % (2 * o) for k in range(2 * o)] + [2 * o + (o - k) % o for k in range(o)]
    perm += [3 * o + 1, 3 * o, 3 * o + 3, 3 * o + 2]
    return code[:, perm].flip(-1)


class HOG(Representation):
    """VLFeat UoCTTI HOG as a module (``backend="torch"`` differentiable, ``"vlfeat"`` the C library).

    Shape:
        - Input: :math:`(B, 3, H, W)` RGB in ``[0, 1]``.
        - Output: :math:`(B, 31, (H + 4) // 8, (W + 4) // 8)` with the defaults.
    """

    name = "hog"
    kind = "hog"

    def __init__(self, cell_size: int = 8, num_orientations: int = 9, backend: str = "torch") -> None:
        super().__init__()
        self.cell_size, self.num_orientations, self.backend = cell_size, num_orientations, backend
        self.differentiable = backend == "torch"

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        return (3 * self.num_orientations + 4, *hog_cells(image_size, self.cell_size))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        if self.backend == "vlfeat":
            from preimage.representations.vlfeat import vl_hog

            gray = rgb_to_gray(images.detach().float()).cpu().numpy()
            out = np.stack([vl_hog(g[0], self.cell_size, "uoctti", self.num_orientations) for g in gray])
            return torch.from_numpy(out).to(images.device, images.dtype)
        return hog_uoctti(images, self.cell_size, self.num_orientations)

    def flip_code(self, code: torch.Tensor) -> torch.Tensor:
        """The code of the mirrored image (:func:`flip_hog_code`)."""
        return flip_hog_code(code, self.num_orientations)

    def for_optimization(self) -> Representation:
        """An encoder with the same values and smoother gradients, for optimisation inversion.

        Hard orientation binning has zero derivative in the gradient direction,
        so descent can only rescale edges, never turn them. This returns a
        straight-through encoder: the forward value is this exact HOG, the
        backward pass is that of VLFeat's bilinear-orientation HOG.
        """
        return _StraightThroughHOG(self.cell_size, self.num_orientations)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, num_orientations={self.num_orientations}, backend={self.backend!r}"


class _StraightThroughHOG(HOG):
    name = "hog (straight-through bilinear gradients)"

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        gray = rgb_to_gray(images)
        hard = hog_uoctti_gray(gray.detach(), self.cell_size, self.num_orientations)
        soft = hog_uoctti_gray(gray, self.cell_size, self.num_orientations, bilinear_orientations=True)
        return hard + (soft - soft.detach())


class HOGDalalTriggs(Representation):
    """Dalal–Triggs HOG (skimage's L2-Hys blocks) as a module.

    Shape:
        - Input: :math:`(B, 3, H, W)` RGB in ``[0, 1]``.
        - Output: :math:`(B, 36, H // 8 - 1, W // 8 - 1)` with the defaults.
    """

    name = "hog-dt"
    kind = "hog-dt"

    def __init__(self, cell_size: int = 8, cells_per_block: int = 2, num_orientations: int = 9) -> None:
        super().__init__()
        self.cell_size, self.cells_per_block, self.num_orientations = (
            cell_size,
            cells_per_block,
            num_orientations,
        )

    def out_shape(self, image_size: int | tuple[int, int]) -> tuple[int, ...]:
        h, w = as_hw(image_size)
        nb = self.cells_per_block
        return (nb * nb * self.num_orientations, h // self.cell_size - nb + 1, w // self.cell_size - nb + 1)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return hog_dalal_triggs(images, self.cell_size, self.cells_per_block, self.num_orientations)

    def extra_repr(self) -> str:
        return f"cell_size={self.cell_size}, cells_per_block={self.cells_per_block}"


@register_representation("hog", "VLFeat UoCTTI HOG, cell 8, 31 dims per cell (differentiable)")
def _hog(backend: str = "torch", cell_size: int = 8) -> Representation:
    return HOG(cell_size=cell_size, backend=backend)


@register_representation("hog-dt", "Dalal–Triggs HOG as skimage.feature.hog (L2-Hys, 2x2 blocks, 36 dims)")
def _hog_dt(backend: str = "torch", cell_size: int = 8) -> Representation:
    if backend != "torch":
        raise PreimageError(
            "hog-dt has only the torch backend (it follows skimage.feature.hog); "
            "use `backend=torch`, or hog for VLFeat's"
        )
    return HOGDalalTriggs(cell_size=cell_size)
