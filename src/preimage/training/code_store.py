"""Codes of a training set computed once, for epochs that need no other codes.

Features of 224-px photos cost far more than a decoder's training step on a CPU
(LBP ~2 ms, SIFT ~80 ms an image against ~7 ms for the step), so without crops
(``--crop-pad 0``) every epoch reuses the same codes. Two stores:

- :class:`MirroredCodes`: the representation mirrors its code (LBP exactly, HOG up
  to orientation ties), so a flipped image's code is the stored code, mirrored.
- :class:`SparseCodePairs`: codes that do not mirror (SIFT: detection and
  descriptors are not flip-equivariant) are stored for each image *and* its mirror
  image, keeping only the non-empty cells of these sparse grids (~20% of SIFT's
  56x56 cells at 224 px: 2.8 GB for 2 x 8,000 images in fp16 instead of 13 GB).
- :class:`DenseCodePairs`: codes of a fixed network (every alexnet64 layer at 64 px),
  for each image and its mirror image.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch

from preimage.files import atomic_path
from preimage.representations import Representation


class CodeStore(Protocol):
    def select(self, idx: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, C, H, W)`` of training images ``idx`` ``(B,)``, mirrored where ``flips`` ``(B,)``."""
        ...


class MirroredCodes:
    """Dense codes of every image; the code of a mirrored image is ``mirror(code)``."""

    def __init__(self, codes: torch.Tensor, mirror: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.codes, self.mirror = codes, mirror

    def select(self, idx: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        codes = self.codes[idx.to(self.codes.device)].clone()
        if flips.any():
            codes[flips.to(codes.device)] = self.mirror(codes[flips.to(codes.device)])
        return codes


class SparseCodePairs:
    """The non-empty cells of the codes of every image (row ``2i``) and of its mirror image (row ``2i + 1``).

    Shape:
        - cells: ``(K,)`` int32, flat cell index ``y * W + x`` of each stored cell
        - values: ``(K, C)`` float16, the code vector of that cell
        - offsets: ``(2N + 1,)`` int64, row ``r`` owns ``cells[offsets[r]:offsets[r + 1]]``
    """

    def __init__(
        self, cells: torch.Tensor, values: torch.Tensor, offsets: torch.Tensor, shape: tuple[int, int, int]
    ) -> None:
        if not (cells.dim() == 1 and values.dim() == 2 and len(cells) == len(values) == int(offsets[-1])):
            raise ValueError("cells (K,), values (K, C) and offsets ending at K must agree")
        self.cells, self.values, self.offsets, self.shape = cells, values, offsets, shape

    @classmethod
    def compute(
        cls, rep: Representation, images: torch.Tensor, batch: int = 32, log: Callable[[str], None] | None = None
    ) -> SparseCodePairs:
        """Encode uint8 images ``(N, 3, S, S)`` and their mirror images."""
        cells, values, counts = [], [], []
        shape: tuple[int, int, int] | None = None
        t0 = last = time.time()
        with torch.no_grad():
            for start in range(0, len(images), batch):
                x = images[start : start + batch].float() / 255.0
                # interleaved so that row 2i is image i and row 2i + 1 its mirror
                both = torch.stack([x, x.flip(-1)], 1).flatten(0, 1)
                codes = rep(both)
                shape = (codes.shape[1], codes.shape[2], codes.shape[3])
                flat = codes.flatten(2).transpose(1, 2)  # (B, HW, C)
                occupied = flat.abs().amax(-1) > 0
                for b in range(len(flat)):
                    where = occupied[b].nonzero().squeeze(1)
                    cells.append(where.to(torch.int32))
                    values.append(flat[b, where].to(torch.float16))
                    counts.append(len(where))
                if log is not None and time.time() - last > 60:
                    last = time.time()
                    done = start + len(x)
                    log(f"  codes of {done}/{len(images)} images (and mirrors), {time.time() - t0:.0f} s")
        if shape is None:
            raise ValueError("no images to encode")
        offsets = torch.zeros(len(counts) + 1, dtype=torch.int64)
        offsets[1:] = torch.tensor(counts, dtype=torch.int64).cumsum(0)
        return cls(torch.cat(cells), torch.cat(values), offsets, shape)

    def select(self, idx: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        out = torch.zeros(len(idx), h * w, c)
        rows = (idx.cpu() * 2 + flips.cpu().long()).tolist()
        for b, r in enumerate(rows):
            s, e = int(self.offsets[r]), int(self.offsets[r + 1])
            out[b, self.cells[s:e].long()] = self.values[s:e].float()
        return out.transpose(1, 2).reshape(len(idx), c, h, w)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.cells, self.values, self.offsets))

    def save(self, path: Path) -> None:
        """Atomically (a unique temporary file, renamed when complete)."""
        state = {"cells": self.cells, "values": self.values, "offsets": self.offsets, "shape": list(self.shape)}
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    @classmethod
    def load(cls, path: Path) -> SparseCodePairs:
        state = torch.load(path, weights_only=True)
        c, h, w = (int(v) for v in state["shape"])
        return cls(state["cells"], state["values"], state["offsets"], (c, h, w))


class DenseCodePairs:
    """The codes of every image (row ``2i``) and of its mirror image (row ``2i + 1``), dense, in fp16.

    For the codes of a fixed network, whose mirrored code cannot be computed from the code (alexnet64
    conv1: 16,384 values, conv3: 12,288, conv5: 2,048, fc8: 200): 100,000 images cost 0.8 GB at conv5
    and 6.6 GB at conv1, so an epoch runs the decoder alone.

    Shape:
        - codes: ``(2N, *code_shape)`` float16
    """

    # the largest code stored densely, in values: every alexnet64 layer at 64 px; a larger code (a VGG
    # layer, a larger input) would take tens of GB for Tiny-ImageNet, and is computed per batch instead
    MAX_VALUES = 16384

    def __init__(self, codes: torch.Tensor) -> None:
        if codes.dim() < 2 or len(codes) % 2:
            raise ValueError("codes must be (2N, ...): each image followed by its mirror image")
        self.codes = codes

    @classmethod
    def compute(
        cls, rep: Representation, images: torch.Tensor, batch: int = 256, log: Callable[[str], None] | None = None
    ) -> DenseCodePairs:
        """Encode uint8 images ``(N, 3, S, S)`` and their mirror images (on the representation's device)."""
        if len(images) == 0:
            raise ValueError("no images to encode")
        device = next(iter(rep.buffers()), torch.empty(0)).device
        codes: torch.Tensor | None = None  # filled in place: the peak is one copy of the codes (GBs at conv1)
        t0 = last = time.time()
        with torch.no_grad():
            for start in range(0, len(images), batch):
                x = images[start : start + batch].to(device).float() / 255.0
                both = torch.stack([x, x.flip(-1)], 1).flatten(0, 1)  # row 2i: image i, 2i + 1: its mirror
                out = rep(both)
                if codes is None:
                    codes = torch.empty((2 * len(images), *out.shape[1:]), dtype=torch.float16)
                codes[2 * start : 2 * start + len(out)] = out.to(torch.float16).cpu()
                if log is not None and time.time() - last > 60:
                    last = time.time()
                    log(f"  codes of {start + len(x)}/{len(images)} images (and mirrors), {time.time() - t0:.0f} s")
        assert codes is not None
        return cls(codes)

    def select(self, idx: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
        return self.codes[idx.cpu() * 2 + flips.cpu().long()].float()

    def nbytes(self) -> int:
        return self.codes.numel() * self.codes.element_size()

    def save(self, path: Path) -> None:
        """Atomically (a unique temporary file, renamed when complete)."""
        with atomic_path(path) as tmp:
            torch.save({"codes": self.codes}, tmp)

    @classmethod
    def load(cls, path: Path) -> DenseCodePairs:
        return cls(torch.load(path, weights_only=True)["codes"])


def cache_file(cache_dir: str | Path, rep_name: str, size: int, source: str, images: torch.Tensor) -> Path:
    """A cache name keyed by the representation, the size and the images themselves (a hash of a sample)."""
    digest = hashlib.sha1()
    digest.update(f"{rep_name}|{size}|{source}|{tuple(images.shape)}".encode())
    step = max(1, len(images) // 64)
    digest.update(images[::step].contiguous().numpy().tobytes())
    safe = "".join(c if c.isalnum() else "_" for c in rep_name)
    return Path(cache_dir) / f"codes_{safe}_{size}px_{digest.hexdigest()[:16]}.pt"
