"""What the server holds between requests: images by id (never a client path), and codes per (image, rep).

Both are bounded least-recently-used tables, so a client that uploads forever evicts its own old images
instead of filling the memory. A slider move finds its code here and only decodes.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import torch

from preimage.data import SAMPLE_NAMES, fit_image, load_sample
from preimage.errors import PreimageError, unknown_name

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A thread-safe table that forgets its least recently used entries beyond ``capacity``.

    Without ``weigh`` the capacity counts entries; with it, the sum of their weights (e.g. bytes: a SIFT code
    of a 224-px photo is 1.7 MB, a HOG code of a 64-px one 8 kB). The newest entry is always kept.
    """

    def __init__(self, capacity: int, weigh: Callable[[V], int] | None = None) -> None:
        self.capacity = capacity
        self._weigh = weigh or (lambda _v: 1)
        self._items: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key in self._items:
                self._total -= self._weigh(self._items.pop(key))
            self._items[key] = value
            self._total += self._weigh(value)
            while self._total > self.capacity and len(self._items) > 1:
                self._total -= self._weigh(self._items.popitem(last=False)[1])

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        found = self.get(key)
        if found is None:
            found = make()
            self.put(key, found)
        return found

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def total(self) -> int:
        """The sum of the entries' weights (their count without ``weigh``)."""
        with self._lock:
            return self._total


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


@dataclass
class StoredImage:
    """An image as the representations see it: centre-cropped to a square and resized, at each input size."""

    id: str
    name: str
    source_hw: tuple[int, int]
    crops: dict[int, torch.Tensor] = field(default_factory=dict)  # size -> (3, size, size)

    def at(self, size: int) -> torch.Tensor:
        if size not in self.crops:
            raise PreimageError(f"image {self.name} was not prepared at {size} px")
        return self.crops[size]


class ImageStore:
    """Images by server-made id. Samples get stable ids (``sample:chelsea``); uploads get random ones."""

    def __init__(self, sizes: tuple[int, ...], capacity: int = 64) -> None:
        self.sizes = tuple(sorted(set(sizes)))
        self._uploads: LRU[str, StoredImage] = LRU(capacity)
        self._samples: dict[str, StoredImage] = {}
        self._lock = threading.Lock()

    def _prepare(
        self, image_id: str, name: str, photo: torch.Tensor, source_hw: tuple[int, int] | None = None
    ) -> StoredImage:
        """``source_hw``: the photo's size as uploaded, when ``photo`` was shrunk on decoding."""
        crops = {s: fit_image(photo, s, "center").contiguous() for s in self.sizes}
        return StoredImage(image_id, name, source_hw or (int(photo.shape[-2]), int(photo.shape[-1])), crops)

    def sample(self, name: str) -> StoredImage:
        if name not in SAMPLE_NAMES:
            raise unknown_name("sample image", name, SAMPLE_NAMES)
        with self._lock:
            if name not in self._samples:
                self._samples[name] = self._prepare(f"sample:{name}", name, load_sample(name))
            return self._samples[name]

    def add(self, name: str, photo: torch.Tensor, source_hw: tuple[int, int] | None = None) -> StoredImage:
        stored = self._prepare(secrets.token_urlsafe(9), name, photo, source_hw)
        self._uploads.put(stored.id, stored)
        return stored

    def get(self, image_id: str) -> StoredImage:
        if image_id.startswith("sample:"):
            return self.sample(image_id.split(":", 1)[1])
        found = self._uploads.get(image_id)
        if found is None:
            raise PreimageError(
                f"no image {image_id[:40]!r} is held by the server (it keeps the {self._uploads.capacity} most "
                "recent uploads) — upload it again or pick a sample photo"
            )
        return found
