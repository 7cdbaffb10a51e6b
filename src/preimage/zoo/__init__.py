"""The zoo: every shipped weight file, described by one manifest (``manifest.json`` beside the files).

An :class:`Entry` says what a file is (``kind``: ``network``, ``decoder``, ``autoencoder`` or ``hoggles``),
what it is for (``name``: a network or a representation such as ``hog`` or ``alexnet64:fc8``; the input size
the representation sees, the output size it reconstructs, a ``variant`` such as ``fast`` or ``linear``), its
model card, its measured metrics and, for what decodes a network's codes, the SHA-256 of that network's
weights. Every module asks this catalogue (:func:`find`, :func:`entries`) for a file; none builds a file name.

Example:
    >>> from preimage import zoo
    >>> zoo.find("decoder", "hog", input_size=224).metrics["tiny-imagenet-200"]  # doctest: +SKIP
    0.296
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from preimage.errors import PreimageError
from preimage.files import atomic_path

# the folder of the shipped files (tests point it at a folder of their own)
ZOO_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "manifest.json"
KINDS = ("network", "decoder", "autoencoder", "hoggles")
DEFAULT_INPUT_SIZE = 64


@dataclass(frozen=True)
class Entry:
    """One shipped file (and its companions) of the zoo."""

    kind: str
    name: str  # a network (``alexnet64``) or a representation (``hog``, ``lbp@4``, ``alexnet64:fc8``)
    file: str  # the weights, relative to the zoo folder
    card: str = ""  # the model card (markdown), relative to the zoo folder
    input_size: int = DEFAULT_INPUT_SIZE  # side of the images the representation (or network) sees
    output_size: int = DEFAULT_INPUT_SIZE  # side of the reconstruction (networks: their input size)
    variant: str | None = None  # another file for the same task: "fast", "linear", ...
    metrics: dict[str, float] = field(default_factory=dict)  # e.g. {"tiny-imagenet-200": 0.585}
    network_sha256: str | None = None  # the weights whose codes this file decodes
    companions: dict[str, str] = field(default_factory=dict)  # e.g. {"encoder": "...", "classes": "..."}

    @property
    def path(self) -> Path:
        return ZOO_DIR / self.file

    @property
    def card_path(self) -> Path:
        return ZOO_DIR / self.card

    def companion(self, role: str) -> Path:
        if role not in self.companions:
            raise PreimageError(f"the zoo's {self.describe()} has no {role} file")
        return ZOO_DIR / self.companions[role]

    def describe(self) -> str:
        """``decoder hog (224 px -> 64 px, fast)``: how errors and listings name it."""
        sizes = f"{self.input_size} px" + (f" -> {self.output_size} px" if self.output_size != self.input_size else "")
        return f"{self.kind} {self.name} ({sizes}{f', {self.variant}' if self.variant else ''})"


@functools.lru_cache(maxsize=8)
def _read(manifest: Path, stamp: float) -> tuple[Entry, ...]:
    try:
        rows = json.loads(manifest.read_text())
        return tuple(Entry(**row) for row in rows)
    except (OSError, ValueError, TypeError) as err:
        raise PreimageError(f"the zoo manifest {manifest} is unreadable ({err}) — reinstall preimage") from None


def _load() -> tuple[Entry, ...]:
    manifest = ZOO_DIR / MANIFEST_NAME
    if not manifest.is_file():
        return ()
    return _read(manifest, manifest.stat().st_mtime)


def entries(kind: str | None = None) -> list[Entry]:
    """The shipped entries (of one ``kind``), in manifest order, whose files are present."""
    if kind is not None and kind not in KINDS:
        raise PreimageError(f"unknown zoo kind {kind!r}: valid kinds are {', '.join(KINDS)}")
    return [e for e in _load() if (kind is None or e.kind == kind) and e.path.is_file()]


def names(kind: str, input_size: int | None = DEFAULT_INPUT_SIZE, variant: str | None = None) -> list[str]:
    """Sorted names with an entry of ``kind`` (at ``input_size``, None: any; of ``variant``)."""
    return sorted({e.name for e in entries(kind) if e.variant == variant and input_size in (None, e.input_size)})


def input_sizes(kind: str, name: str, variant: str | None = None) -> list[int]:
    """The input sizes ``name`` has an entry of ``kind`` for, 64 first."""
    sizes = {e.input_size for e in entries(kind) if e.name == name and e.variant == variant}
    return sorted(sizes, key=lambda s: (s != DEFAULT_INPUT_SIZE, s))


def variants(kind: str, name: str, input_size: int = DEFAULT_INPUT_SIZE) -> list[str]:
    return sorted(
        e.variant for e in entries(kind) if e.name == name and e.input_size == input_size and e.variant is not None
    )


def lookup(kind: str, name: str, input_size: int = DEFAULT_INPUT_SIZE, variant: str | None = None) -> Entry | None:
    """The entry, or None."""
    for e in entries(kind):
        if (e.name, e.input_size, e.variant) == (name, input_size, variant):
            return e
    return None


def find(kind: str, name: str, input_size: int = DEFAULT_INPUT_SIZE, variant: str | None = None) -> Entry:
    """The entry of ``kind`` for ``name`` at ``input_size`` (and ``variant``), or a one-line error naming what is
    shipped instead."""
    found = lookup(kind, name, input_size, variant)
    if found is not None:
        return found
    what = "linear baseline" if variant == "linear" else _WHAT.get(kind, kind)
    if variant is not None and lookup(kind, name, input_size) is not None:
        shipped = ", ".join(variants(kind, name, input_size)) or "none"
        raise PreimageError(f"no {variant!r} variant of the {name} {kind} is shipped (variants: {shipped})")
    sizes = input_sizes(kind, name, variant)
    if sizes:
        raise PreimageError(
            f"no {name} {what} for {input_size}-px images is shipped (shipped for "
            f"{', '.join(f'{s} px' for s in sizes)})"
        )
    shipped = ", ".join(names(kind, DEFAULT_INPUT_SIZE, variant)) or "none"
    raise PreimageError(f"no {_UNKNOWN.get(kind, what)} for {name!r} is shipped (shipped: {shipped})")


_WHAT = {"hoggles": "HOGgles dictionary"}
_UNKNOWN = {"decoder": "trained decoder"}


def table() -> str:
    """The catalogue as a text table (``preimage list zoo``)."""
    rows = [("kind", "name", "input", "output", "variant", "metrics", "file")]
    for e in entries():
        metrics = ", ".join(f"{k} {v:g}" for k, v in e.metrics.items())
        rows.append((e.kind, e.name, str(e.input_size), str(e.output_size), e.variant or "-", metrics or "-", e.file))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def as_rows() -> list[dict[str, Any]]:
    return [asdict(e) for e in entries()]


def file_name(kind: str, name: str, input_size: int = DEFAULT_INPUT_SIZE, variant: str | None = None) -> str:
    """The file a training run exports for the zoo: ``alexnet64.safetensors``, ``hoggles_hog.safetensors``,
    ``decoder_<rep>[_autoencoder][.<variant>][.<size>px].safetensors`` (no size tag: 64-px input);
    ``encoder_...`` is an autoencoder's fine-tuned network (:func:`encoder_file_name`)."""
    if kind not in KINDS:
        raise PreimageError(f"unknown zoo kind {kind!r}: valid kinds are {', '.join(KINDS)}")
    if kind == "network":
        return f"{name}.safetensors"
    if kind == "hoggles":
        return f"hoggles_{name}.safetensors"
    tags = (f".{variant}" if variant else "") + (f".{input_size}px" if input_size != DEFAULT_INPUT_SIZE else "")
    suffix = "_autoencoder" if kind == "autoencoder" else ""
    return f"decoder_{name.replace(':', '_')}{suffix}{tags}.safetensors"


def encoder_file_name(name: str) -> str:
    """The fine-tuned layers of an autoencoder, beside its decoder."""
    return file_name("autoencoder", name).replace("decoder_", "encoder_", 1)


def export_safetensors(
    state: dict[str, torch.Tensor],
    path: str | Path,
    fp16: bool = True,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write weights as safetensors (fp16 by default), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {
        k: (v.detach().half() if fp16 and v.is_floating_point() else v.detach()).contiguous() for k, v in state.items()
    }
    with atomic_path(path) as tmp:
        save_file(out, str(tmp), metadata=metadata or {})
    return path


# ---- building the manifest from the files (how a release, or a test's own zoo, writes it)


def scan(folder: Path | None = None) -> list[Entry]:
    """Entries for the weight files in ``folder`` (default: the zoo), from the files themselves: decoders'
    configs (stored in their safetensors metadata), networks' training summaries (``NAME.json``), and the
    metrics their model cards state. The one place that reads meaning out of a zoo file name."""
    folder = ZOO_DIR if folder is None else folder
    found: list[Entry] = []
    for summary in sorted(folder.glob("*.json")):
        weights = summary.with_suffix(".safetensors")
        if summary.name == MANIFEST_NAME or not weights.is_file():
            continue
        info = json.loads(summary.read_text())
        metrics = {f"tiny-imagenet-200 top-{k}": info[f"val_top{k}"] for k in (1, 5) if f"val_top{k}" in info}
        companions = {"summary": summary.name}
        if (folder / f"{summary.stem}_classes.tsv").is_file():
            companions["classes"] = f"{summary.stem}_classes.tsv"
        found.append(
            Entry("network", summary.stem, weights.name, f"{summary.stem}.md", metrics=metrics, companions=companions)
        )
    for path in sorted(folder.glob("decoder_*.safetensors")):
        found.append(_decoder_entry(folder, path))
    if (folder / "hoggles_hog.safetensors").is_file():
        found.append(
            Entry(
                "hoggles",
                "hog",
                "hoggles_hog.safetensors",
                "hoggles_hog.md",
                metrics=_card_metrics(folder / "hoggles_hog.md"),
            )
        )
    return found


def _decoder_entry(folder: Path, path: Path) -> Entry:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as fh:
        cfg = json.loads((fh.metadata() or {})["config"])
    stem, *tags = path.name.removesuffix(".safetensors").split(".")
    variant = next((t for t in tags if not (t.endswith("px") and t[:-2].isdigit())), None)
    card = path.name.removesuffix(".safetensors") + ".md"
    autoencoder = stem.endswith("_autoencoder")
    output_size = cfg["output_size"] if "output_size" in cfg else cfg["image_size"]  # the older files' key
    return Entry(
        "autoencoder" if autoencoder else "decoder",
        cfg["rep"],
        path.name,
        card,
        cfg.get("input_size") or output_size,
        output_size,
        variant,
        _card_metrics(folder / card),
        cfg.get("encoder_sha256"),
        {"encoder": path.name.replace("decoder_", "encoder_", 1)} if autoencoder else {},
    )


_CARD_METRICS = {
    "tiny-imagenet-200": r"Tiny-ImageNet(?:-200)? val, 10000 images[^*]*\*\*([0-9.]+)\*\*",
    "imagenette-224": r"Imagenette[^\n]*val[^*]*\*\*([0-9.]+)\*\*",
    "bsds500": r"BSDS500 val, 100 centre crops[^*]*\*\*([0-9.]+)\*\*",
}


def _card_metrics(card: Path) -> dict[str, float]:
    """The normalised errors a model card states, by test set."""
    import re

    text = card.read_text() if card.is_file() else ""
    found = {name: re.search(pattern, text, re.IGNORECASE) for name, pattern in _CARD_METRICS.items()}
    return {name: float(m.group(1)) for name, m in found.items() if m}


def write_manifest(folder: Path | None = None, keep: dict[str, Entry] | None = None) -> Path:
    """Write ``folder``'s manifest from :func:`scan` (entries in ``keep``, by file, replace the scanned ones)."""
    from preimage.files import write_text

    folder = ZOO_DIR if folder is None else folder
    rows = [asdict((keep or {}).get(e.file, e)) for e in scan(folder)]
    return write_text(folder / MANIFEST_NAME, json.dumps(rows, indent=1) + "\n")
