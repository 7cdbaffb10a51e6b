"""Modified codes: pure functions on feature tensors, shared by the optimisation and decoder inverters.

Every function takes a batch of codes ``(B, ...)`` (``(B, C, H, W)`` maps or
``(B, D)`` vectors) and returns a new tensor of the same shape; none modifies
its input. Randomness always comes from an explicit ``seed``.

Feature-map inversion (Xia et al. 2016): :func:`keep_channels`,
:func:`reallocate_random`, :func:`reallocate_toward`. Perturbations
(Dosovitskiy & Brox 2016): :func:`binarize`, :func:`dropout`,
:func:`drop_least`, :func:`top_k`, :func:`interpolate`, :func:`sample_random`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from preimage.errors import PreimageError


def _check(code: torch.Tensor, name: str, min_dim: int = 2) -> None:
    if not isinstance(code, torch.Tensor) or code.dim() < min_dim:
        shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
        raise PreimageError(f"{name}: expected a batch of codes (B, ...), got {shape} — add a batch dimension")
    if not torch.isfinite(code).all():
        raise PreimageError(f"{name}: the code contains NaN or Inf")


def _maps(code: torch.Tensor, name: str) -> None:
    _check(code, name, 3)


def channel_energy(code: torch.Tensor) -> torch.Tensor:
    """Per-channel energy, the sum of a map's activations: ``(B, C, ...)`` -> ``(B, C)``."""
    return code.flatten(2).sum(dim=2)


def keep_channels(code: torch.Tensor, channels: int | Sequence[int], mode: str = "sum") -> torch.Tensor:
    """Zero every feature map except ``channels``.

    ``mode="sum"`` is Xia et al.'s feature-map inversion: the kept map receives,
    at every position, the sum over *all* channels there, so the code keeps the
    image's spatial energy but routes it through one filter. ``mode="own"``
    keeps the map's own values.

    Shape:
        - Input: :math:`(B, C, H, W)`. Output: same.
    """
    _maps(code, "keep_channels")
    idx = [channels] if isinstance(channels, int) else list(channels)
    c = code.shape[1]
    if not idx or any(not 0 <= i < c for i in idx):
        raise PreimageError(f"keep_channels: channels {idx} out of range for a code with {c} channels (0..{c - 1})")
    out = torch.zeros_like(code)
    if mode == "sum":
        total = code.sum(dim=1)
        for i in idx:
            out[:, i] = total
    elif mode == "own":
        out[:, idx] = code[:, idx]
    else:
        raise PreimageError(f"keep_channels: unknown mode {mode!r}; use 'sum' (Xia et al.) or 'own'")
    return out


def _rescale_to_rates(code: torch.Tensor, rates: torch.Tensor) -> torch.Tensor:
    """Rescale map c so that its energy is ``total * rate_c``; all-zero maps cannot carry energy, so their
    share is redistributed over the others and the total is conserved."""
    energy = channel_energy(code)
    total = energy.sum(dim=1, keepdim=True)
    alive = energy.abs() > 1e-12
    rates = torch.where(alive, rates, torch.zeros_like(rates))
    # no live channel got a share (e.g. the style is silent where the content is not): keep the own rates
    stuck = rates.sum(dim=1, keepdim=True) <= 0
    rates = torch.where(stuck, energy.abs(), rates)
    rates = rates / rates.sum(dim=1, keepdim=True).clamp_min(1e-12)
    scale = torch.where(alive, total * rates / torch.where(alive, energy, torch.ones_like(energy)), 0.0)
    return code * scale.view(*scale.shape, *([1] * (code.dim() - 2)))


RATES = ("dirichlet", "xia")


def xia_rates(n: int, rng: np.random.Generator, alive: np.ndarray | None = None, min_sum: float = 0.01) -> np.ndarray:
    """Rates as Xia et al.'s ``utils.ModifyCode(mod_type="random")`` draws them: ``np.random.normal(3, 1e3)``,
    i.e. **mean 3, standard deviation 1000** (numpy's second argument is the scale, not the variance),
    divided by their sum. Most rates are therefore of either sign and far from 3; the normalisation keeps
    their sum at 1. Channels not ``alive`` (all-zero maps, which the official code would divide by 0) get 0.
    A draw whose sum is near zero (``|sum| < min_sum * sum |r|``: some normalised rate would exceed
    ``1 / min_sum`` in size) is drawn again rather than divided by ~0.
    """
    mask = np.ones(n, dtype=bool) if alive is None else np.asarray(alive, dtype=bool)
    if not mask.any():
        return np.zeros(n)
    while True:
        r = np.where(mask, rng.normal(3.0, 1e3, size=n), 0.0)
        total = r.sum()
        if abs(total) >= min_sum * np.abs(r).sum():
            return r / total


def reallocate_random(
    code: torch.Tensor, seed: int, concentration: float = 1.0, rates: str = "dirichlet"
) -> torch.Tensor:
    """Xia et al.'s random energy reallocation: new per-channel rates, total energy conserved.

    ``rates="dirichlet"`` (the default) draws a symmetric Dirichlet(``concentration``): every rate positive,
    uniform on the simplex when ``concentration=1``. ``rates="xia"`` draws the official code's rates (see
    :func:`xia_rates`): signed, so some maps get negative energy, which no ReLU layer can produce; the
    inversion then chases an unreachable target, hence Dirichlet is the default. One set of rates per
    image, from ``seed``; map c is rescaled so its sum is ``total * rate_c``.
    """
    _maps(code, "reallocate_random")
    if rates not in RATES:
        raise PreimageError(f"reallocate_random: unknown rates {rates!r}; use one of {', '.join(RATES)}")
    b, c = code.shape[:2]
    rng = np.random.default_rng(seed)
    if rates == "dirichlet":
        draws = rng.dirichlet(np.full(c, float(concentration)), size=b)
    else:
        alive = (channel_energy(code).abs() > 1e-12).cpu().numpy()
        draws = np.stack([xia_rates(c, rng, alive[i]) for i in range(b)])
    return _rescale_to_rates(code, torch.from_numpy(draws).to(code.device, code.dtype))


def reallocate_by_rank(code: torch.Tensor, style_code: torch.Tensor) -> torch.Tensor:
    """Xia et al.'s *direct* purposeful reallocation (``utils.ModifyCode(mod_type="purposeful")``).

    The content's maps are sorted by energy (their sum) and given, in that order, the positions of the
    style's maps sorted by energy: the k-th weakest content map becomes the map of the k-th weakest style
    channel. Each reassigned map then has its mean replaced by the style map's mean.

    Shape:
        - code, style_code: :math:`(B, C, H, W)` and :math:`(1 \text{ or } B, C, H', W')`. Output: like ``code``.
    """
    _maps(code, "reallocate_by_rank")
    if style_code.dim() != code.dim() or style_code.shape[1] != code.shape[1]:
        raise PreimageError(
            f"reallocate_by_rank: style code has {style_code.shape[1]} channels, content "
            f"{code.shape[1]} — use the same layer for both"
        )
    style_code = style_code.expand(code.shape[0], *style_code.shape[1:])
    style_index = channel_energy(style_code).argsort(dim=1, stable=True)
    code_index = channel_energy(code).argsort(dim=1, stable=True)
    out = torch.empty_like(code)
    for i in range(code.shape[0]):
        out[i, style_index[i]] = code[i, code_index[i]]
    dims = tuple(range(2, code.dim()))
    return out - out.mean(dim=dims, keepdim=True) + style_code.mean(dim=dims, keepdim=True)


def reallocate_toward(code: torch.Tensor, style_code: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """Purposeful reallocation: move the per-channel energy rates towards a style image's.

    ``strength`` 0 keeps the content's rates, 1 uses the style's; the content's
    total energy is conserved.
    """
    _maps(code, "reallocate_toward")
    if style_code.dim() != code.dim() or style_code.shape[1] != code.shape[1]:
        raise PreimageError(
            f"reallocate_toward: style code has {style_code.shape[1]} channels, content "
            f"{code.shape[1]} — use the same layer for both"
        )
    own = channel_energy(code)
    own = own / own.sum(dim=1, keepdim=True).clamp_min(1e-12)
    style = channel_energy(style_code)
    style = (style / style.sum(dim=1, keepdim=True).clamp_min(1e-12)).expand(code.shape[0], -1)
    return _rescale_to_rates(code, (1 - strength) * own + strength * style)


def binarize(code: torch.Tensor) -> torch.Tensor:
    """Keep the sign pattern, give every non-zero entry one magnitude, keep each code's L2 norm."""
    _check(code, "binarize")
    flat = code.flatten(1)
    nnz = (flat != 0).sum(dim=1, keepdim=True).clamp_min(1)
    magnitude = flat.norm(dim=1, keepdim=True) / nnz.sqrt()
    return (torch.sign(flat) * magnitude).view_as(code)


def dropout(code: torch.Tensor, p: float = 0.5, seed: int = 0) -> torch.Tensor:
    """Zero a random fraction ``p`` of the entries and rescale each code to its original L2 norm."""
    _check(code, "dropout")
    if not 0 <= p < 1:
        raise PreimageError(f"dropout: p must be in [0, 1), got {p}")
    flat = code.flatten(1)
    gen = torch.Generator().manual_seed(seed)
    keep = torch.rand(flat.shape, generator=gen).to(code.device) >= p
    dropped = flat * keep
    scale = flat.norm(dim=1, keepdim=True) / dropped.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (dropped * scale).view_as(code)


def drop_least(code: torch.Tensor, fraction: float = 0.5, nonzero_only: bool = True) -> torch.Tensor:
    """Zero the ``fraction`` smallest-magnitude entries of each code (by default: of its non-zero entries,
    as in the paper's "dropping the 50% least activations")."""
    _check(code, "drop_least")
    flat = code.flatten(1)
    out = flat.clone()
    for i, row in enumerate(flat):
        candidates = torch.nonzero(row != 0)[:, 0] if nonzero_only else torch.arange(row.numel())
        k = round(fraction * len(candidates))
        if k:
            smallest = candidates[row[candidates].abs().argsort()[:k]]
            out[i, smallest] = 0
    return out.view_as(code)


def top_k(code: torch.Tensor, k: int = 5, keep: str = "top") -> torch.Tensor:
    """Keep only the ``k`` largest entries (``keep="top"``) or everything but them (``keep="rest"``)."""
    _check(code, "top_k")
    flat = code.flatten(1)
    idx = flat.topk(k, dim=1).indices
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, idx, True)
    if keep == "rest":
        mask = ~mask
    elif keep != "top":
        raise PreimageError(f"top_k: keep must be 'top' or 'rest', got {keep!r}")
    return (flat * mask).view_as(code)


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """Codes on the straight line from ``a`` to ``b``: ``(steps, ...)`` with ``t = 0 .. 1``."""
    if a.shape != b.shape:
        raise PreimageError(f"interpolate: codes differ in shape {tuple(a.shape)} vs {tuple(b.shape)}")
    t = torch.linspace(0, 1, steps, dtype=a.dtype).view(-1, *([1] * a.dim()))
    return (1 - t) * a[None] + t * b[None]


def sample_random(real: torch.Tensor, n: int, method: str = "histogram", seed: int = 0, bins: int = 64) -> torch.Tensor:
    """Random codes that follow the real codes' per-dimension statistics.

    ``histogram``: every dimension is drawn independently from its empirical
    distribution, so each dimension keeps its real sparsity (its fraction of
    zeros) and value histogram. ``gaussian``: a Gaussian per dimension with the
    real mean and std, shifted down so that the fraction of non-positive draws
    equals the real fraction of zeros, then truncated at 0 (ReLU codes).
    """
    _check(real, "sample_random")
    gen = torch.Generator().manual_seed(seed)
    flat = real.flatten(1).float()
    m, d = flat.shape
    if method == "histogram":
        # sampling a stored value per dimension == sampling the empirical histogram exactly
        rows = torch.randint(0, m, (n, d), generator=gen)
        out = torch.gather(flat, 0, rows)
    elif method == "gaussian":
        mean, std = flat.mean(0), flat.std(0).clamp_min(1e-8)
        zero_frac = (flat == 0).float().mean(0).clamp(1e-4, 1 - 1e-4)
        # shift so that P(x <= 0) = zero_frac: mean' = -std * Phi^{-1}(zero_frac)
        shifted = -std * torch.special.ndtri(zero_frac)
        # rectified dimensions (never negative, sometimes exactly 0) are truncated; signed ones (logits) are not
        has_zeros = (flat == 0).any(0) & (flat >= 0).all(0)
        centre = torch.where(has_zeros, shifted, mean)
        out = torch.randn(n, d, generator=gen) * std + centre
        out = torch.where(has_zeros, out.clamp_min(0), out)
    else:
        raise PreimageError(f"sample_random: unknown method {method!r}; use 'histogram' or 'gaussian'")
    return out.view(n, *real.shape[1:]).to(real.dtype)
