"""``preimage demo``: what HOG and every alexnet64 layer keep, on scikit-image's sample photos.

Runs in about two minutes on a 2-core CPU and needs no data download: the
photos ship with scikit-image and the network with preimage. Writes
``out/demo/index.html`` (self-contained) plus the PNGs and a JSON summary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from preimage import zoo
from preimage.data import read_images, save_image
from preimage.files import write_json
from preimage.inverters import create_inverter
from preimage.inverters.decoders import Decoder, shipped_reps
from preimage.inverters.feature_maps import filter_textures, restyle_random, texture_layers, texture_model
from preimage.metrics import normalized_reconstruction_error
from preimage.report.figures import labelled_rows, line_plot, save_grid
from preimage.report.html import Section, write_page
from preimage.representations import Representation, create_representation
from preimage.representations.cnn import create_cnn_representation

FULL_RESOLUTION = 224  # the paper's protocol: features of the 224-px photo, reconstructions at 64 px
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8", "prob")


def _decoder_error(
    rep: Representation, code: torch.Tensor, x: torch.Tensor, rows: list[torch.Tensor], labels: list[str]
) -> float:
    if zoo.lookup("decoder", rep.name) is None:
        return float("nan")
    with torch.no_grad():
        rec = create_inverter("decoder", rep)(code)
    rows.append(rec)
    labels.append(rep.name.split(":")[1])
    return normalized_reconstruction_error(x, rec)


def _autoencoder_error(rep: Representation, x: torch.Tensor) -> float:
    from preimage.errors import PreimageError

    try:
        autoencoder = create_inverter("autoencoder", rep)
    except PreimageError:  # not shipped for this layer
        return float("nan")
    return normalized_reconstruction_error(x, autoencoder.reconstruct(x))


def edge_energy(images: torch.Tensor) -> float:
    """Mean gradient magnitude (finite differences, gray) of ``(N, 3, H, W)`` images in ``[0, 1]``."""
    gray = images.mean(1)
    dx, dy = gray[..., :, 1:] - gray[..., :, :-1], gray[..., 1:, :] - gray[..., :-1, :]
    return float((dx[..., :-1, :].square() + dy[..., :, :-1].square()).sqrt().mean())


def full_resolution_section(out: Path, images: str, summary: dict[str, Any]) -> Section | None:
    """The paper's protocol on the sample photos: HOG of the 224-px photo, decoded to 64 px.

    Beside it the 64-px protocol (HOG of the 64-px thumbnail, 16x fewer cells), both scored against
    the photo downsampled to 64 px. None when no 224-px HOG decoder ships.
    """
    from preimage.data.images import resize
    from preimage.metrics import protocol_errors

    size = FULL_RESOLUTION
    if zoo.lookup("decoder", "hog", size) is None:
        return None
    photos = torch.stack([it.image for it in read_images([images], size=size)[0]])
    thumbs = resize(photos, 64)
    hog = create_representation("hog")
    with torch.no_grad():
        code_full, code_thumb = hog(photos), hog(thumbs)
        rec_full = create_inverter("decoder", hog, input_size=size)(code_full)
        rec_thumb = create_inverter("decoder", hog)(code_thumb)
    err_full = protocol_errors(photos, rec_full, 0)
    err_thumb = protocol_errors(photos, rec_thumb, 0)
    labelled_rows([thumbs, rec_full, rec_thumb], ["input", f"HOG@{size}", "HOG@64"], out / "hog_full_resolution.png")
    for i, name in enumerate(summary["images"]):
        save_image(rec_full[i], out / f"hog{size}" / f"{name}.png")
    detail_in = edge_energy(thumbs)
    detail_full, detail_thumb = edge_energy(rec_full) / detail_in, edge_energy(rec_thumb) / detail_in
    summary["hog_full_resolution"] = {
        f"{size}->64": err_full["normalized_error"],
        "64->64": err_thumb["normalized_error"],
        # mean gradient magnitude of the reconstructions over the photos' (1 = as much edge detail)
        "detail": {f"{size}->64": detail_full, "64->64": detail_thumb},
        "code_shapes": {f"{size}->64": list(code_full.shape[1:]), "64->64": list(code_thumb.shape[1:])},
    }
    table = [
        {
            "protocol": f"HOG of the {size}-px photo ({'x'.join(map(str, code_full.shape[1:]))}) -> 64 px",
            "normalised error": err_full["normalized_error"],
            "edge detail kept": detail_full,
        },
        {
            "protocol": f"HOG of the 64-px thumbnail ({'x'.join(map(str, code_thumb.shape[1:]))}) -> 64 px",
            "normalised error": err_thumb["normalized_error"],
            "edge detail kept": detail_thumb,
        },
    ]
    return Section(
        f"A full-resolution photo from its HOG ({size} px in, 64 px out: the paper's protocol)",
        f"HOG (cell 8) computed on the {size}-px photo, as Dosovitskiy &amp; Brox did on ImageNet, holds "
        f"{code_full.shape[-1]}x{code_full.shape[-1]} cells; one forward pass of the learned decoder predicts "
        "the photo downsampled to 64 px. Below it the HOG of the 64-px thumbnail (8x8 cells) through the "
        "64-px decoder. The finer grid of the full-resolution code keeps far more edges and layout (edge "
        "detail: mean gradient magnitude of the reconstruction over the photo's). Its pixel error on these "
        "photos is not lower: the 224-px decoder learned from 8,000 Imagenette photos of 10 classes, the "
        "64-px one from 100,000 Tiny-ImageNet images, and on photos unlike its training set (a retina, a "
        "stained tissue) the 64-px decoder's smoother colour guess costs less squared error than sharp edges "
        "in the wrong tone. Both are scored against the photo downsampled to 64 px (bilinear with "
        "antialiasing). On the 500 Imagenette val photos, the set it was made for, the full-resolution code "
        "wins clearly (Table 1 in docs/paper_protocol.md).",
        [
            (
                out / "hog_full_resolution.png",
                f"rows: photo (shown at 64 px), decoder from HOG of the {size}-px photo, "
                "decoder from HOG of the 64-px thumbnail",
            )
        ],
        [(table, "normalised error, these photos")],
    )


def _hog_section(d: DemoInputs, summary: dict[str, Any]) -> tuple[list[Section], torch.Tensor]:
    """HOG of the photos inverted by optimisation, HOGgles and the learned decoder (the founding Table 1)."""
    sections: list[Section] = []
    # 1. HOG by optimisation (the shallow baseline of both papers)
    hog = create_representation("hog")
    with torch.no_grad():
        code = hog(d.x)
    rec_hog = create_inverter("optimize", hog, steps=d.steps, seed=d.seed)(code)
    err_hog = normalized_reconstruction_error(d.x, rec_hog)
    hog_rows, hog_labels, hog_table = [d.x, rec_hog], ["input", "optimize"], [{"method": "optimize", "error": err_hog}]
    if zoo.lookup("hoggles", "hog") is not None:
        rec = create_inverter("hoggles", hog)(code)
        hog_rows.append(rec)
        hog_labels.append("HOGgles")
        hog_table.append({"method": "HOGgles (paired dictionary)", "error": normalized_reconstruction_error(d.x, rec)})
    if zoo.lookup("decoder", "hog") is not None:
        with torch.no_grad():
            rec = create_inverter("decoder", hog)(code)
        hog_rows.append(rec)
        hog_labels.append("decoder")
        hog_table.append({"method": "learned decoder", "error": normalized_reconstruction_error(d.x, rec)})
    labelled_rows(hog_rows, hog_labels, d.out / "hog.png")
    summary["hog_optimize_error"] = err_hog
    summary["hog_errors"] = {r["method"]: r["error"] for r in hog_table}
    sections.append(
        Section(
            "HOG (VLFeat UoCTTI, cell 8) inverted by optimisation",
            f"Gradient descent on the image until its HOG matches (Mahendran &amp; Vedaldi's objective with "
            f"bilinear-orientation surrogate gradients, {d.steps} steps). HOG keeps edges and their orientation but "
            f"throws away colour and absolute brightness, so the reconstructions are gray and edge-like. "
            f"Normalised reconstruction error: <b>{err_hog:.3f}</b> (0 = perfect, about 0.7 = a flat gray guess). "
            "Beside it the two other inverters of the founding paper's Table 1: HOGgles' paired dictionary (gray, "
            "patch-wise) and the learned decoder, which also guesses colour and brightness.",
            [(d.out / "hog.png", "rows: input photos (64x64), then each inverter's reconstruction from HOG")],
            [(hog_table, "normalised error, these images")],
        )
    )
    return sections, rec_hog


def _layer_sections(d: DemoInputs, summary: dict[str, Any]) -> tuple[list[Section], torch.nn.Module | None]:
    """Every alexnet64 layer inverted by optimisation, the learned decoder and the autoencoder."""
    sections: list[Section] = []
    # 2. Every alexnet64 layer by optimisation
    rows, labels = [d.x], ["input"]
    errors: list[float] = []
    curves: dict[str, list[float]] = {"optimisation": errors, "decoder": [], "autoencoder": []}
    dec_rows, dec_labels = [d.x], ["input"]
    net = None
    for layer in LAYERS:
        tap = create_cnn_representation(f"alexnet64:{layer}", model=net)
        net = tap.model
        with torch.no_grad():
            c = tap(d.x)
        rec = create_inverter("optimize", tap, steps=d.steps, seed=d.seed)(c)
        rows.append(rec)
        labels.append(layer)
        errors.append(normalized_reconstruction_error(d.x, rec))
        curves["decoder"].append(_decoder_error(tap, c, d.x, dec_rows, dec_labels))
        curves["autoencoder"].append(_autoencoder_error(tap, d.x))
    labelled_rows(rows, labels, d.out / "layers.png")
    if len(dec_rows) > 1:
        labelled_rows(dec_rows, dec_labels, d.out / "layers_decoder.png")
    shown = {k: v for k, v in curves.items() if any(e == e for e in v)}  # drop curves with no shipped model
    line_plot(list(LAYERS), shown, d.out / "error_by_layer.png", "normalised error", "alexnet64: error by layer")
    summary["layer_errors"] = shown
    summary["layer_errors_optimize"] = dict(zip(LAYERS, errors, strict=True))
    sections.append(
        Section(
            "alexnet64, layer by layer",
            "Reconstructions from each layer of the 64-pixel AlexNet trained here on Tiny-ImageNet. Early layers "
            "keep almost everything; deeper layers keep colour and rough layout while details fade, and the error "
            "grows with depth. The learned decoders (one forward pass) beat optimisation at every layer; the "
            "autoencoder, whose encoder was fine-tuned too, bounds what a decoder could recover.",
            [
                (
                    d.out / "layers_decoder.png",
                    "rows: input, then the learned decoder's reconstruction from each layer",
                ),
                (d.out / "layers.png", f"rows: input, then optimisation ({d.steps} steps) from conv1 ... fc8"),
                (d.out / "error_by_layer.png", "normalised reconstruction error per layer and inverter"),
            ],
            [
                (
                    [{"layer": layer, **{m: v[i] for m, v in shown.items()}} for i, layer in enumerate(LAYERS)],
                    "normalised error, these images (nan: not shipped)",
                )
            ],
        )
    )
    return sections, net


def _texture_sections(d: DemoInputs, net: torch.nn.Module | None) -> list[Section]:
    """What single filters extract (Xia et al.): one layer's filters, then a row per layer."""
    sections: list[Section] = []
    # 3. What single filters extract (Xia et al.): vgg19_64 relu2_1 (alexnet64 conv2 where its weights are absent)
    tex_model = texture_model()
    tex_layer = texture_layers(tex_model)[1]
    tap = create_cnn_representation(f"{tex_model}:{tex_layer}", model=net if tex_model == "alexnet64" else None)
    tex = filter_textures(tap, d.x[1], k=16, steps=d.steps, seed=d.seed)  # TEXTURE_PRESET, 16 most energetic
    save_grid(tex.images, d.out / "textures_conv2.png", columns=8, scale=2)
    sections.append(
        Section(
            f"The texture each {tex_model} {tex_layer} filter extracts",
            f"Feature-map inversion: all maps but one are set to zero and the kept one receives the per-pixel sum "
            f"of all maps; inverting that code shows the texture primitive of the filter (here on "
            f"'{d.items[1].name}').",
            [(d.out / "textures_conv2.png", f"the 16 most energetic {tex_layer} filters: {tex.channels}")],
        )
    )
    # ... and how they change with depth, one row per layer as in Xia et al.'s figures (one network, loaded once)
    sheet, layer_names = [], list(texture_layers(tex_model))
    for layer in layer_names:
        layer_tap = create_cnn_representation(f"{tex_model}:{layer}", model=tap.model)
        sheet.append(filter_textures(layer_tap, d.x[1], k=4, steps=d.steps, seed=d.seed).images)
    labelled_rows(sheet, layer_names, d.out / "textures_by_layer.png")
    sections.append(
        Section(
            f"Filter textures by depth ({tex_model})",
            "The 4 most energetic filters of each layer: colour and strokes low down, gratings, cells, then parts "
            "and object-like fragments higher up.",
            [(d.out / "textures_by_layer.png", f"{', '.join(layer_names)}: 4 filters each")],
        )
    )
    return sections


def _restyle_sections(d: DemoInputs, net: torch.nn.Module | None) -> list[Section]:
    """Diverse styles by random energy reallocation at alexnet64 conv3."""
    sections: list[Section] = []
    # 4. Diverse styles by random energy reallocation
    tap3 = create_cnn_representation("alexnet64:conv3", model=net)
    styles = restyle_random(tap3, d.x[1], [0, 1, 2, 3], steps=d.steps, seed=d.seed, progress=False)
    labelled_rows([d.x[1:2], styles], ["content", "random styles"], d.out / "restyle.png")
    sections.append(
        Section(
            "Random energy reallocation at conv3",
            "Each feature map is rescaled so its energy follows random rates (total conserved); inverting gives "
            "the same layout painted with different texture mixtures — a style is a combination of filter textures.",
            [(d.out / "restyle.png", "content and four random reallocations (seeds 0-3)")],
        )
    )
    return sections


def _decoder_sections(
    d: DemoInputs, summary: dict[str, Any], net: torch.nn.Module | None
) -> tuple[list[Section], list[str]]:
    """The default decoder of each shallow representation (CNN layers have their own section)."""
    sections: list[Section] = []
    # the default decoder of each shallow representation (CNN layers have their own section)
    shipped = [Decoder.from_pretrained(r) for r in shipped_reps() if ":" not in r]
    summary["decoders_shipped"] = [dec.rep for dec in shipped]
    if shipped:
        rows, labels, table = [d.x], ["input"], []
        for dec in shipped:
            extra: dict[str, Any] = {"model": net} if ":" in dec.rep else {}
            rep = create_representation(dec.rep, **extra)
            with torch.no_grad():
                rec = dec(rep(d.x))
            rows.append(rec)
            labels.append(dec.rep)
            table.append({"representation": dec.rep, "normalised error": normalized_reconstruction_error(d.x, rec)})
        labelled_rows(rows, labels, d.out / "decoders.png")
        summary["decoder_errors"] = {r["representation"]: r["normalised error"] for r in table}
        sections.insert(
            0,
            Section(
                "Learned decoders: one forward pass",
                "Up-convolutional networks trained on Tiny-ImageNet to predict the expected image given its features "
                "(Dosovitskiy &amp; Brox). Compare with the HOG optimisation below: the decoder knows what natural "
                "images look like, so it recovers brightness and plausible colour that the features do not encode.",
                [(d.out / "decoders.png", "input, then the reconstruction by each shipped decoder")],
                [(table, "these images")],
            ),
        )
    return sections, [dec.rep for dec in shipped]


@dataclass(frozen=True)
class DemoInputs:
    """What every section of the demo page works on: the photos, where figures go, the optimisation budget."""

    out: Path
    x: torch.Tensor  # (N, 3, 64, 64) in [0, 1]
    items: list[Any]  # the photos as read (their names)
    steps: int
    seed: int


def run_demo(
    out: Path, images: str = "samples:all", steps: int = 100, seed: int = 0, strict: bool = False
) -> dict[str, Any]:
    start = time.time()
    items, _ = read_images([images], size=64, strict=strict)
    out.mkdir(parents=True, exist_ok=True)
    d = DemoInputs(out, torch.stack([it.image for it in items]), items, steps, seed)
    summary: dict[str, Any] = {"images": [it.name for it in items]}
    hog_sections, rec_hog = _hog_section(d, summary)
    layer_sections, net = _layer_sections(d, summary)
    sections = [*hog_sections, *layer_sections, *_texture_sections(d, net), *_restyle_sections(d, net)]
    decoder_sections, shipped = _decoder_sections(d, summary, net)
    sections[:0] = decoder_sections
    full = full_resolution_section(out, images, summary)
    if full is not None:
        sections.insert(0, full)
    missing = sorted({"hog", "lbp", "sift"} - set(shipped))
    if missing:
        sections.append(
            Section(
                "Decoders still training",
                f"No decoder ships yet for: {', '.join(missing)}. LBP and SIFT are not differentiable, so only a "
                "learned decoder can invert them; see README for the training status.",
            )
        )
    for i, it in enumerate(items):
        save_image(rec_hog[i], out / "hog" / f"{it.name}.png")
    summary["seconds"] = round(time.time() - start, 1)
    page = write_page(
        out / "index.html",
        "preimage demo: what do HOG and a CNN keep?",
        f"Six scikit-image sample photos at 64x64, turned into features and back into images. "
        f"Generated in {summary['seconds']} s on this machine by <code>preimage demo</code>.",
        sections,
    )
    write_json(out / "summary.json", summary)
    summary["page"] = str(page)
    return summary
