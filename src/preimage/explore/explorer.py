"""The explorer without HTTP: what one view of the page shows, computed from its parameters.

A :class:`View` is everything the page's controls say (image, representation, code edits, interpolation,
random code); :meth:`Explorer.render` turns it into the reconstruction, its distance to the input and, for
class layers, the classes in the code. Codes are cached per (image, representation, size), so a slider move
costs one decode and one PNG encode. Views are pure functions of their parameters (every random draw has a
seed), so a download link is the same view asked again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from preimage.data import SAMPLE_NAMES, resize
from preimage.errors import PreimageError, unknown_name
from preimage.explore import inverters as inv
from preimage.explore.jobs import Job, JobQueue
from preimage.explore.state import LRU, ImageStore, StoredImage, tensor_bytes
from preimage.explore.uploads import decode_upload, encode_png

# the top-k control offers 1 .. this many classes
MAX_TOP_K = 50
TOP_CLASSES_SHOWN = 5


def _number(params: Mapping[str, str], key: str, default: float, lo: float, hi: float, what: str) -> float:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise PreimageError(f"{what} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise PreimageError(f"{what} must be between {lo:g} and {hi:g}, got {value:g}")
    return value


def _integer(params: Mapping[str, str], key: str, default: int, lo: int, hi: int, what: str) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PreimageError(f"{what} must be a whole number from {lo} to {hi}, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise PreimageError(f"{what} must be a whole number from {lo} to {hi}, got {value}")
    return value


def _flag(params: Mapping[str, str], key: str) -> bool:
    return params.get(key, "0").lower() in ("1", "true", "on", "yes")


@dataclass(frozen=True)
class View:
    """One state of the page's live controls."""

    image: str
    choice: inv.RepChoice
    edits: inv.Edits = field(default_factory=inv.Edits)
    mix_with: str | None = None
    t: float = 0.0
    random_seed: int | None = None  # a random code (the histogram sampler) instead of the image's
    variant: str | None = None  # another zoo decoder of the representation (``choice.variants``)

    def slug(self) -> str:
        """The view as a file name part: the representation and every edit (downloads of two views differ)."""
        e = self.edits
        parts = [self.choice.key.replace(":", "-")] + ([self.variant] if self.variant else [])
        parts += [f"top{e.top_k}" if e.top_k_mode == "top" else f"no-top{e.top_k}"] if e.top_k else []
        parts += [f"least{e.drop_least:g}"] if e.drop_least else []
        parts += [f"dropout{e.dropout:g}-seed{e.dropout_seed}"] if e.dropout else []
        parts += ["binarized"] if e.binarize else []
        parts += [f"to-{self.mix_with}-t{self.t:g}"] if self.mix_with and self.t else []
        parts += [f"random{self.random_seed}"] if self.random_seed is not None else []
        return "_".join(parts)


class Explorer:
    """Images, codes, models and the job queue behind the page; thread-safe."""

    def __init__(
        self,
        max_pending: int = 8,
        max_steps: int = 1000,
        image_capacity: int = 64,
        code_bytes: int = 256 * 2**20,
        decoders: Sequence[str | Path] = (),
        network_weights: str = "default",
    ) -> None:
        """``decoders``: the user's own decoder files, offered beside the zoo's, each checked against its network
        (a ``--model`` network with ``network_weights``, else its factory's weights)."""
        self.choices = [*inv.user_choices(decoders, network_weights), *inv.rep_choices()]
        if not self.choices:
            raise PreimageError("no decoder is shipped in the zoo — reinstall preimage")
        self.models = inv.Models(network_weights)
        self.images = ImageStore(tuple(c.size for c in self.choices), image_capacity)
        self.codes: LRU[tuple[str, str, int], torch.Tensor] = LRU(code_bytes, tensor_bytes)
        self._references: LRU[tuple[str, int], torch.Tensor] = LRU(code_bytes, tensor_bytes)
        self._scale: float | None = None
        self.jobs = JobQueue(max_pending=max_pending, max_steps=max_steps)

    # ---- what the page needs to draw its controls

    def meta(self) -> dict[str, Any]:
        return {
            "reps": [
                {"key": c.key, "rep": c.rep, "size": c.size, "classes": c.classes, "variants": list(c.variants)}
                for c in self.choices
            ],
            "samples": list(SAMPLE_NAMES),
            "texture_layers": [{"layer": k, "channels": inv.texture_channels(k)} for k in inv.texture_layer_keys()],
            "texture_default": inv.default_texture_layer() if inv.texture_layer_keys() else None,
            "max_steps": self.jobs.max_steps,
            "max_pending": self.jobs.max_pending,
            "max_top_k": MAX_TOP_K,
        }

    def upload(self, data: bytes, name: str) -> StoredImage:
        photo, source_hw = decode_upload(data, name, min(self.images.sizes))
        return self.images.add(name, photo, source_hw)

    def image_info(self, stored: StoredImage) -> dict[str, Any]:
        return {"id": stored.id, "name": stored.name, "height": stored.source_hw[0], "width": stored.source_hw[1]}

    def input_png(self, image_id: str, size: int = 64) -> bytes:
        stored = self.images.get(image_id)
        return encode_png(stored.at(size) if size in stored.crops else resize(stored.at(max(stored.crops)), size))

    # ---- live views

    def parse(self, params: Mapping[str, str]) -> View:
        """A :class:`View` from the page's query string; every value is checked, every error says the fix."""
        image = params.get("image") or ""
        if not image:
            raise PreimageError("no image: pick a sample photo or upload one")
        self.images.get(image)  # unknown ids fail here, with the reason
        choice = inv.find_choice(params.get("rep") or "", self.choices)
        variant = params.get("variant") or None  # checked where the decoder is built (Models.decoder)
        top_k = _integer(params, "topk", 0, 0, MAX_TOP_K, "top-k")
        if top_k and not choice.classes:
            raise PreimageError(
                f"top-k classes apply to the class layers ({', '.join(inv.CLASS_LAYERS)}), not {choice.key}"
            )
        mode = params.get("topk_mode", "top")
        if mode not in ("top", "rest"):
            raise PreimageError(f"topk_mode must be 'top' (keep only the top-k) or 'rest' (remove them), not {mode!r}")
        edits = inv.Edits(
            binarize=_flag(params, "binarize"),
            dropout=_number(params, "dropout", 0.0, 0.0, 0.99, "dropout p"),
            dropout_seed=_integer(params, "seed", 0, 0, 2**31 - 1, "dropout seed"),
            drop_least=_number(params, "least", 0.0, 0.0, 1.0, "drop-least fraction"),
            top_k=top_k,
            top_k_mode=mode,
        )
        mix_with = params.get("mix") or None
        if mix_with is not None:
            self.images.get(mix_with)
        random_seed = (
            _integer(params, "random_seed", 0, 0, 2**31 - 1, "random seed") if _flag(params, "random") else None
        )
        if random_seed is not None and mix_with is not None:
            raise PreimageError(
                "a random code has no photo to move from: clear 'towards', or untick 'decode a random code'"
            )
        t = _number(params, "t", 0.0, 0.0, 1.0, "interpolation t")
        return View(image, choice, edits, mix_with, t, random_seed, variant)

    def code(self, image_id: str, choice: inv.RepChoice) -> torch.Tensor:
        """The code ``(1, ...)`` of an image, computed once per (image, representation, size)."""
        key = (image_id, choice.rep, choice.size)
        return self.codes.get_or_make(
            key, lambda: self.models.encode(choice.rep, self.images.get(image_id).at(choice.size)[None])
        )

    def reference_codes(self, choice: inv.RepChoice) -> torch.Tensor:
        """Codes of the sample photos and their mirror images: the histograms random codes are drawn from."""

        def make() -> torch.Tensor:
            photos = torch.stack([self.images.sample(n).at(choice.size) for n in SAMPLE_NAMES])
            return self.models.encode(choice.rep, torch.cat([photos, photos.flip(-1)]))

        return self._references.get_or_make((choice.rep, choice.size), make)

    def edited_code(self, view: View) -> torch.Tensor:
        if view.random_seed is not None:
            code = inv.random_code(self.reference_codes(view.choice), view.random_seed)
        else:
            code = self.code(view.image, view.choice)
            if view.mix_with is not None and view.t:
                code = inv.mix(code, self.code(view.mix_with, view.choice), view.t)
        return view.edits.apply(code)

    def distance_scale(self) -> float:
        """The mean distance between the 64-px sample photos: the denominator of the normalised distance."""
        if self._scale is None:
            from preimage.metrics import mean_pairwise_distance

            self._scale = mean_pairwise_distance(torch.stack([self.images.sample(n).at(64) for n in SAMPLE_NAMES]))
        return self._scale

    def classes(self, code: torch.Tensor, choice: inv.RepChoice, kept: bool = False) -> list[dict[str, Any]]:
        """The most probable classes of ``code``; ``kept``: only the entries a top-k edit left in it (the
        removed ones are zeros, which would list as tied classes)."""
        probs = code[0] if choice.rep.endswith(":prob") else torch.softmax(code[0].float(), 0)
        names = inv.class_names()
        if kept:
            probs = probs.masked_fill(code[0] == 0, -1.0)
        top = probs.topk(min(TOP_CLASSES_SHOWN, int((probs >= 0).sum())))
        return [
            {"index": int(i), "name": names[int(i)] if int(i) < len(names) else str(int(i)), "p": round(float(p), 4)}
            for p, i in zip(top.values, top.indices, strict=True)
        ]

    def render(self, view: View) -> tuple[bytes, dict[str, Any]]:
        """The reconstruction's PNG and what the page prints beside it (distance, classes, timings)."""
        start = time.perf_counter()
        code = self.edited_code(view)
        coded = time.perf_counter()
        recon = self.models.decode(view.choice, code, view.variant)[0]
        decoded = time.perf_counter()
        png = encode_png(recon)
        encoded = time.perf_counter()
        info: dict[str, Any] = {"rep": view.choice.key, "variant": view.variant, "distance": None}
        if view.random_seed is None:
            image = self.images.get(view.image).at(view.choice.size)
            side = int(recon.shape[-1])
            target = resize(image, side) if image.shape != recon.shape else image
            info["distance"] = round(float((target - recon).norm()) / self.distance_scale(), 4)
        if view.choice.classes:
            info["classes"] = self.classes(code, view.choice, kept=bool(view.edits.top_k))
            if view.random_seed is None:
                info["input_classes"] = self.classes(self.code(view.image, view.choice), view.choice)
        info["ms"] = {
            "code": round((coded - start) * 1e3, 2),
            "decode": round((decoded - coded) * 1e3, 2),
            "png": round((encoded - decoded) * 1e3, 2),
            "total": round((time.perf_counter() - start) * 1e3, 2),
        }
        return png, info

    # ---- background jobs

    def submit_job(self, params: Mapping[str, Any]) -> Job:
        """Queue a filter texture (``kind=texture``, ``layer``, ``channel``), an optimisation inversion of the
        view's code (``kind=optimize`` plus the view's parameters) or a sampled pre-image of it (``kind=sample``,
        ``sample_seed``), ``steps`` at most."""
        kind = str(params.get("kind", ""))
        flat = {k: str(v) for k, v in params.items()}
        steps = _integer(flat, "steps", 200, 1, self.jobs.max_steps, "steps")
        if kind == "texture":
            image_id = flat.get("image") or ""
            keys = inv.texture_layer_keys()
            layer = flat.get("layer") or inv.default_texture_layer()
            channel = _integer(flat, "channel", 0, 0, 100_000, "channel")
            stored = self.images.get(image_id)
            if layer not in keys:
                raise unknown_name("texture layer", layer, keys)
            channels = inv.texture_channels(layer)
            if channel >= channels:
                raise PreimageError(f"{layer} has {channels} filters: pick a channel in 0..{channels - 1}")
            image = stored.at(64)[None]
            return self.jobs.submit(
                "texture",
                f"{layer} filter {channel} of {stored.name}",
                steps,
                lambda on_step: inv.texture(image, layer, channel, steps, on_step),
            )
        if kind == "optimize":
            view = self.parse(flat)
            code = self.edited_code(view)
            what = "a random code" if view.random_seed is not None else self.images.get(view.image).name
            choice = view.choice
            if not self.models.differentiable(choice.rep):
                raise PreimageError(
                    f"{choice.rep} is not differentiable, so optimisation cannot invert it — pick hog or a layer "
                    f"of {inv.CNN}"
                )
            return self.jobs.submit(
                "optimize",
                f"{choice.key} of {what}",
                steps,
                lambda on_step: inv.optimize_code(choice.rep, code, choice.size, steps, on_step),
            )
        if kind == "sample":
            return self._submit_sample(self.parse(flat), steps, _integer(flat, "sample_seed", 0, 0, 2**31 - 1, "seed"))
        raise PreimageError(f"unknown job kind {kind!r}: use 'texture', 'optimize' or 'sample'")

    def _submit_sample(self, view: View, steps: int, seed: int) -> Job:
        """One more pre-image of the view's code, started from the view's reconstruction plus seeded noise: what
        differs between samples is what the code leaves open."""
        choice = view.choice
        if not self.models.differentiable(choice.rep):
            raise PreimageError(
                f"{choice.rep} is not differentiable, so it cannot be sampled — pick hog or a layer of {inv.CNN}"
            )
        code = self.edited_code(view)
        start = self.models.decode(choice, code, view.variant)
        what = "a random code" if view.random_seed is not None else self.images.get(view.image).name
        return self.jobs.submit(
            "sample",
            f"{choice.key} of {what}, seed {seed}",
            steps,
            lambda on_step: inv.sample_code(choice.rep, code, start, choice.size, steps, seed, on_step),
        )

    def close(self) -> None:
        self.jobs.close()
