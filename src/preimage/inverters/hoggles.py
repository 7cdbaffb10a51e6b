"""HOGgles (Vondrick et al., ICCV 2013): inverting HOG with a paired dictionary.

A dictionary of paired atoms is learned jointly on gray image windows and the
HOG of the same windows, so that one sparse code ``a`` explains both:
``[x; lam * h] ~ [U; lam * V] a``. To invert, the HOG window alone is sparse
coded against ``V`` (lasso) and the image window is read off as ``U a``.
Windows of ``window x window`` cells slide one cell at a time; overlapping
pixel predictions are averaged. The output is gray (HOG is computed on gray
images), replicated to RGB so it can be compared with colour inputs.

The baseline in the founding paper's Table 1 (normalised error 0.61 on HOG).
Lasso by FISTA and MOD dictionary updates, batched in torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from preimage.errors import PreimageError

GRAY_MEAN = 0.45  # subtracted from pixels so atoms need not model the global offset


@dataclass
class HogglesConfig:
    window: int = 4  # cells per window side
    cell: int = 8
    atoms: int = 512
    alpha: float = 0.02  # lasso penalty, the same for learning and for inversion
    windows: int = 60_000  # training windows sampled from the images
    epochs: int = 3
    seed: int = 0


class PairedDictionary(nn.Module):
    """HOG -> gray image by sparse coding over paired atoms (HOGgles).

    Shape:
        - Input: HOG codes :math:`(B, 31, h, w)` (VLFeat UoCTTI, cell 8), ``h, w >= window``.
        - Output: :math:`(B, 3, 8h, 8w)` in ``[0, 1]`` (gray, replicated).
    """

    def __init__(
        self, image_atoms: torch.Tensor, hog_atoms: torch.Tensor, hog_scale: float, config: HogglesConfig
    ) -> None:
        super().__init__()
        self.config = config
        self.image_atoms: torch.Tensor
        self.hog_atoms: torch.Tensor
        self.register_buffer("image_atoms", image_atoms.float())
        self.register_buffer("hog_atoms", hog_atoms.float())
        self.hog_scale = float(hog_scale)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return hoggles_invert(codes, self)

    @classmethod
    def from_file(cls, path: str | Path) -> PairedDictionary:
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise PreimageError(f"HOGgles dictionary not found: {path} — train one with preimage train-hoggles")
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
        if "config" not in meta:
            raise PreimageError(f"{path} is not a HOGgles dictionary (no config in its metadata)")
        cfg = json.loads(meta["config"])
        tensors = load_file(str(path))
        return cls(tensors["image_atoms"], tensors["hog_atoms"], cfg.pop("hog_scale"), HogglesConfig(**cfg)).eval()

    @classmethod
    def from_pretrained(cls) -> PairedDictionary:
        from preimage import zoo

        return cls.from_file(zoo.find("hoggles", "hog").path)

    def save(self, path: str | Path) -> Path:
        from preimage.zoo import export_safetensors

        meta = {"config": json.dumps({**asdict(self.config), "hog_scale": self.hog_scale})}
        tensors = {"image_atoms": self.image_atoms, "hog_atoms": self.hog_atoms}
        return export_safetensors(tensors, Path(path), fp16=True, metadata=meta)


def _hog_windows(codes: torch.Tensor, window: int) -> torch.Tensor:
    """All ``window x window``-cell windows, one cell apart: ``(B, 31, h, w)`` -> ``(B, nh, nw, 31 * window^2)``."""
    win = codes.unfold(2, window, 1).unfold(3, window, 1)  # (B, C, nh, nw, window, window)
    return win.permute(0, 2, 3, 1, 4, 5).flatten(3)


def _image_windows(gray: torch.Tensor, window: int, cell: int) -> torch.Tensor:
    """Pixel windows matching :func:`_hog_windows`: ``(B, 1, H, W)`` -> ``(B, nh, nw, (window * cell)^2)``."""
    side = window * cell
    win = gray[:, 0].unfold(1, side, cell).unfold(2, side, cell)  # (B, nh, nw, side, side)
    return win.flatten(3)


def _pick(windows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Windows ``(B, nh, nw, d)`` at flat positions ``index`` ``(B, k)`` -> ``(B * k, d)``."""
    flat = windows.flatten(1, 2)
    return torch.gather(flat, 1, index[..., None].expand(-1, -1, flat.shape[-1])).flatten(0, 1)


def sparse_code(signals: torch.Tensor, atoms: torch.Tensor, alpha: float, iterations: int = 100) -> torch.Tensor:
    """Lasso codes by FISTA, batched: ``argmin_a 0.5 ||y - a D||^2 + alpha ||a||_1`` for every row ``y``.

    scikit-learn's ``sparse_encode`` (LARS) took ~46 ms per window on this CPU;
    FISTA is a few matrix products per iteration over the whole batch.

    Shape:
        - Input: signals :math:`(N, d)`, atoms :math:`(K, d)`. Output: :math:`(N, K)`.
    """
    gram = atoms @ atoms.T
    lipschitz = float(torch.linalg.matrix_norm(gram, ord=2)) + 1e-12
    target = signals @ atoms.T
    a = torch.zeros(signals.shape[0], atoms.shape[0], dtype=signals.dtype)
    z, t = a, 1.0
    for _ in range(iterations):
        grad = z @ gram - target
        step = z - grad / lipschitz
        a_next = torch.sign(step) * (step.abs() - alpha / lipschitz).clamp_min(0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        z = a_next + ((t - 1) / t_next) * (a_next - a)
        a, t = a_next, t_next
    return a


def learn_paired_dictionary(images: torch.Tensor, config: HogglesConfig | None = None) -> PairedDictionary:
    """Learn paired atoms from RGB images ``(N, 3, S, S)`` in ``[0, 1]``.

    Alternates lasso coding (:func:`sparse_code`) of the joint windows with the
    least-squares dictionary update of MOD (Engan et al. 1999), atoms
    renormalised to unit length; ``config.epochs`` rounds.
    """
    from preimage.representations.base import rgb_to_gray
    from preimage.representations.hog import hog_uoctti

    cfg = config or HogglesConfig()
    if images.dim() != 4 or images.shape[1] != 3:
        raise PreimageError(f"learn_paired_dictionary: expected RGB images (N, 3, S, S), got {tuple(images.shape)}")
    gen = torch.Generator().manual_seed(cfg.seed)
    hog_parts, img_parts = [], []
    per_image = max(1, cfg.windows // len(images) + 1)
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = images[i : i + 256]
            h = _hog_windows(hog_uoctti(x, cell_size=cfg.cell), cfg.window)
            g = _image_windows(rgb_to_gray(x), cfg.window, cfg.cell)
            nh, nw = h.shape[1], h.shape[2]
            g = g[:, :nh, :nw]
            pick = torch.randint(0, nh * nw, (len(x), per_image), generator=gen)
            hog_parts.append(
                torch.gather(h.flatten(1, 2), 1, pick[..., None].expand(-1, -1, h.shape[-1])).flatten(0, 1)
            )
            img_parts.append(
                torch.gather(g.flatten(1, 2), 1, pick[..., None].expand(-1, -1, g.shape[-1])).flatten(0, 1)
            )
    hog = torch.cat(hog_parts)[: cfg.windows].float()
    img = torch.cat(img_parts)[: cfg.windows].float() - GRAY_MEAN
    # weight the HOG half so both halves carry the same energy in the joint objective
    hog_scale = float(torch.sqrt(img.square().sum(1).mean() / hog.square().sum(1).mean().clamp_min(1e-12)))
    joint = torch.cat([img, hog_scale * hog], dim=1)
    # initialise with random training windows, as is usual for dictionary learning
    atoms = joint[torch.randperm(len(joint), generator=gen)[: cfg.atoms]].clone()
    atoms = atoms / atoms.norm(dim=1, keepdim=True).clamp_min(1e-8)
    for _ in range(cfg.epochs):
        codes = sparse_code(joint, atoms, cfg.alpha, iterations=60)
        gram = codes.T @ codes + 1e-4 * torch.eye(cfg.atoms)
        atoms = torch.linalg.solve(gram, codes.T @ joint)
        unused = atoms.norm(dim=1) < 1e-6
        if unused.any():  # re-seed atoms no window uses
            atoms[unused] = joint[torch.randint(0, len(joint), (int(unused.sum()),), generator=gen)]
        atoms = atoms / atoms.norm(dim=1, keepdim=True).clamp_min(1e-8)
    n_img = img.shape[1]
    return PairedDictionary(atoms[:, :n_img], atoms[:, n_img:], hog_scale, cfg)


def hoggles_invert(codes: torch.Tensor, dictionary: PairedDictionary) -> torch.Tensor:
    """Sparse-code every HOG window against the HOG atoms, paint the paired pixel atoms, average overlaps.

    Shape:
        - Input: :math:`(B, 31, h, w)`. Output: :math:`(B, 3, 8h, 8w)` in ``[0, 1]``.
    """
    cfg = dictionary.config
    if codes.dim() != 4 or codes.shape[1] != 31:
        raise PreimageError(f"hoggles: expected UoCTTI HOG codes (B, 31, h, w), got {tuple(codes.shape)}")
    if not torch.isfinite(codes).all():
        raise PreimageError("hoggles: the HOG codes contain NaN or Inf")
    b, _, h, w = codes.shape
    if h < cfg.window or w < cfg.window:
        raise PreimageError(f"hoggles: codes of {h}x{w} cells are smaller than the {cfg.window}-cell window")
    windows = _hog_windows(codes.detach().float().cpu(), cfg.window)
    nh, nw = windows.shape[1], windows.shape[2]
    flat = windows.reshape(-1, windows.shape[-1]) * dictionary.hog_scale
    sparse = sparse_code(flat, dictionary.hog_atoms, cfg.alpha)
    patches = sparse @ dictionary.image_atoms + GRAY_MEAN
    side = cfg.window * cfg.cell
    patches = patches.view(b, nh * nw, side * side).transpose(1, 2)  # (B, side^2, L) for fold
    size = (h * cfg.cell, w * cfg.cell)
    summed = torch.nn.functional.fold(patches, size, side, stride=cfg.cell)
    counts = torch.nn.functional.fold(torch.ones_like(patches), size, side, stride=cfg.cell)
    gray = (summed / counts.clamp_min(1)).clamp(0, 1)
    return gray.expand(-1, 3, -1, -1).contiguous().to(codes.device)
