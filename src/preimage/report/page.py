"""``preimage report DIR``: one self-contained HTML page from the outputs of ``preimage experiment``.

Every experiment folder (``DIR/NAME/summary.json`` plus its PNGs and CSVs)
becomes a section: its figures inlined, its tables, and a one-paragraph
reading written from the numbers in that run — not from the paper.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from preimage.errors import PreimageError
from preimage.registry import Registry
from preimage.report.html import Section, write_page

Reader = Callable[[dict[str, Any]], str]
READERS: Registry[str] = Registry("report reader")


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else "n/a"


def _row_errors(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    # summary.json writes null for a NaN (strict JSON): read it back as NaN, shown as n/a
    return {
        str(r[key]): math.nan if r["normalized_error"] is None else float(r["normalized_error"])
        for r in rows
        if "normalized_error" in r
    }


@READERS.register("shallow-table")
def _shallow(s: dict[str, Any]) -> str:
    parts = []
    for r in s.get("rows", []):
        if "normalized_error" in r and "(" not in str(r["method"]):
            paper = f" (paper {r['paper']})" if r.get("paper") not in ("", None) else ""
            parts.append(f"{r['rep']} {r['method']} on {r['set']}: {_fmt(r['normalized_error'])}{paper}")
    missing = [f"{r['rep']} {r['method']}: {r['note']}" for r in s.get("rows", []) if "note" in r]
    text = "Normalised reconstruction error (lower is better; about 0.7 is a constant gray guess). " + "; ".join(parts)
    if missing:
        text += ". Not measured: " + "; ".join(sorted(set(missing)))
    return text + "."


@READERS.register("layers")
def _layers(s: dict[str, Any]) -> str:
    curves = s.get("curves", {})
    layers = s.get("layers", [])
    dec = [v for v in curves.get("decoder", []) if math.isfinite(v)]
    text = "Error per layer: " + "; ".join(
        f"{m} " + ", ".join(f"{layer} {_fmt(v)}" for layer, v in zip(layers, vals, strict=False) if math.isfinite(v))
        for m, vals in curves.items()
        if any(math.isfinite(v) for v in vals)
    )
    if len(dec) > 1:
        text += (
            f". The decoder's error goes from {_fmt(dec[0])} at the first shipped layer to {_fmt(dec[-1])} at the last"
        )
    return text + "."


@READERS.register("perturb")
def _perturb(s: dict[str, Any]) -> str:
    mean = s.get("mean_error", {})
    if not mean:
        return "No layer decoder is shipped, so nothing was perturbed."
    order = sorted(mean, key=mean.get)
    verdict = "less" if s.get("binarize_less_harmful_than_dropout") else "more"
    return (
        "Mean error over layers, from least to most harmful: "
        + ", ".join(f"{k} {_fmt(mean[k])}" for k in order)
        + f". Binarisation is {verdict} harmful than 50% dropout here"
        + " (the paper found it less harmful: the pattern of active units carries most of the information)."
    )


@READERS.register("brightness")
def _brightness(s: dict[str, Any]) -> str:
    rows = s.get("rows", [])
    if not rows:
        return str(s.get("note", ""))

    def say(r: dict[str, Any]) -> str:
        return (
            f"x{r['factor']} moves the input by {_fmt(r['input_change'])} (L2), its HOG by "
            f"{100 * r['code_change_rel']:.2g}% and the reconstruction by {_fmt(r['recon_change'])}"
        )

    darker = [say(r) for r in rows if r["factor"] < 1]
    brighter = [say(r) for r in rows if r["factor"] > 1]
    return (
        "Scaling an image darker leaves its HOG unchanged up to the normalisation's epsilon, so the decoder "
        "paints the same brightness whatever the true one: "
        + "; ".join(darker)
        + ". Brighter factors clip highlights at 1, which changes the gradients themselves: "
        + "; ".join(brighter)
        + ". The decoder estimates brightness from content, not from the (normalised) features."
    )


@READERS.register("colorization")
def _colour(s: dict[str, Any]) -> str:
    rows = [r for r in s.get("rows", []) if "colourfulness" in r]
    return (
        "Colourfulness (Hasler-Suesstrunk) and hue agreement with the input: "
        + "; ".join(f"{r['source']} {_fmt(r['colourfulness'])} / {_fmt(r['hue_agreement'])}" for r in rows)
        + ". The features are computed on gray images, so any colour is the decoder's prior."
    )


@READERS.register("class-probs")
def _class(s: dict[str, Any]) -> str:
    errs = _row_errors(s.get("rows", []), "code")
    if not errs:
        return str(s.get("note", ""))
    return (
        f"From {s.get('layer', 'fc8')}: full code {_fmt(errs.get('all'))}, top-5 only {_fmt(errs.get('top-5 only'))}, "
        f"all but the top-5 {_fmt(errs.get('all but top-5'))}. Predicted: {', '.join(s.get('predicted', []))}."
    )


@READERS.register("preimages")
def _preimages(s: dict[str, Any]) -> str:
    """Per representation and set: how far apart the samples are, what differs (the largest share first), and
    their code match beside the MSE mean's."""
    parts = []
    for r in s.get("rows", []):
        shares = {"colour": r["share_colour"], "layout": r["share_layout"], "detail": r["share_detail"]}
        ranked = ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
        sharp = f", sharp decoder {_fmt(r['error_sharp'])}" if "error_sharp" in r else ""
        parts.append(
            f"{r['rep']} ({r['set']}): samples differ by {_fmt(r['mean_abs_difference'])} per pixel ({ranked}); "
            f"feature error {_fmt(r['feature_error_samples'])} against the MSE mean's {_fmt(r['feature_error_mean'])}; "
            f"pixel error {_fmt(r['error_samples'])} against the mean's {_fmt(r['error_mean'])}{sharp}"
        )
    return (
        f"Columns: {s.get('columns', '')}. Every sample matches the photo's code, so what differs between them is "
        "what the code leaves open: " + "; ".join(parts) + "."
    )


@READERS.register("detail-budget")
def _detail_budget(s: dict[str, Any]) -> str:
    """Per representation and set: the edges photo-like detail reaches within the budget, beside the sharp
    decoder's."""
    parts = []
    for r in s.get("rows", []):
        sharp = (
            f"; the sharp decoder {_fmt(r['edge_ratio_sharp'])} at error {_fmt(r['error_sharp'])}"
            if "error_sharp" in r
            else ""
        )
        parts.append(
            f"{r['rep']} ({r['set']}): MSE mean {_fmt(r['edge_ratio_mse'])} at error {_fmt(r['error_mse'])}, "
            f"{_fmt(r['edge_ratio_at_budget'])} at the budget (bound {_fmt(r['edge_ratio_bound_at_budget'])}), "
            f"full detail {_fmt(r['edge_ratio_full_detail'])} at error {_fmt(r['error_full_detail'])}{sharp}"
        )
    return (
        "Edge-energy ratio of each MSE reconstruction plus another photo's residual, within an error budget of "
        f"{_fmt(s.get('error_budget'))} above the MSE decoder's: " + "; ".join(parts) + "."
    )


def _generic(s: dict[str, Any]) -> str:
    keys = [k for k, v in s.items() if isinstance(v, int | float) and k not in ("seed", "quick")]
    return "; ".join(f"{k} {_fmt(float(s[k]))}" for k in keys)


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@READERS.register("textures")
def _textures(s: dict[str, Any]) -> str:
    layers = s.get("layers", [])
    hfe = ", ".join(f"{r['layer']} {_fmt(r.get('high_freq_energy'))}" for r in layers)
    inactive = sum(int(r.get("inactive", 0)) for r in layers)
    text = (
        f"Textures of the most energetic filters of each layer of {s.get('model', '?')} "
        f"(recipe {s.get('recipe', '?')}). Mean high-frequency energy of the textures by layer: {hfe}"
    )
    text += (
        "; higher at the last layer than the first"
        if s.get("claim_more_structure_higher_up")
        else "; not higher at the last layer than the first"
    )
    sizes = ", ".join(f"{r['layer']} {_fmt(r.get('structure_size_px'))}" for r in layers)
    if sizes and "structure_size_px" in (layers[0] if layers else {}):
        text += f". Median structure size (px, where the autocorrelation halves): {sizes}"
        grows = s.get("claim_larger_structures_higher_up")
        text += "; it grows at every layer" if grows else "; it does not grow at every layer"
    text += f". Channels inactive on the image (marked, not inverted): {inactive}."
    for name, r in s.get("recipes", {}).items():
        text += (
            f" Recipe {name} on the atlas channels: relative feature error {_fmt(r.get('feature_error'))}, "
            f"image std {_fmt(r.get('image_std'))}, {_fmt(r.get('steps'))} steps."
        )
    return text


def build_report(root: Path, out: Path | None = None) -> Path:
    """Collect every ``root/*/summary.json`` into ``root/report.html`` (or ``out``)."""
    root = Path(root)
    folders = sorted(p.parent for p in root.glob("*/summary.json"))
    if not folders:
        raise PreimageError(f"{root} holds no experiment results — run preimage experiment all -o {root} first")
    sections = []
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        name = str(summary.get("experiment", folder.name))
        reader = READERS.get(name) if name in READERS else _generic
        figures = [(p, p.stem.replace("_", " ")) for p in sorted(folder.glob("*.png"))]
        tables: list[tuple[Sequence[dict[str, Any]], str]] = [
            (_csv_rows(p), p.name) for p in sorted(folder.glob("*.csv"))
        ]
        quick = " (quick settings)" if summary.get("quick") else ""
        sections.append(Section(f"{name}{quick}", reader(summary), figures, tables))
    page = out or root / "report.html"
    return write_page(
        page,
        "preimage report",
        f"{len(sections)} experiments from <code>{root}</code>. Errors are normalised reconstruction errors: "
        "the mean distance between image and reconstruction over the mean distance between two test images.",
        sections,
    )
