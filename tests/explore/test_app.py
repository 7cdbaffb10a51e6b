"""The explorer's HTTP API without a browser (Starlette's TestClient): live views, uploads, limits, jobs."""

from __future__ import annotations

import base64
import io
import logging
import time
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from preimage.data import center_crop, decode_image, fit_image
from preimage.explore import Explorer, uploads
from tests.explore.conftest import photo_bytes


def view(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/api/render", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def png(info: dict[str, Any]) -> bytes:
    return base64.b64decode(info["png"].split(",", 1)[1])


def refused(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return str(response.json()["error"])


def test_page_and_its_script_are_served_from_the_package(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script src="/static/app.js">' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/app.css").status_code == 200


def test_meta_offers_the_shallow_features_and_every_alexnet64_layer(client: Any) -> None:
    meta = client.get("/api/meta").json()
    keys = [r["key"] for r in meta["reps"]]
    for rep in ("hog", "lbp", "lbp@4", "sift"):
        assert rep in keys
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8", "prob"]
    assert [k for k in keys if k.startswith("alexnet64:")] == [f"alexnet64:{la}" for la in layers]
    assert {r["key"] for r in meta["reps"] if r["classes"]} == {"alexnet64:fc8", "alexnet64:prob"}
    # textures: Xia et al.'s VGG-19 (relu1_1 .. relu5_1, the widths of vgg19_64) first, then AlexNet's conv layers
    textures = {t["layer"]: t["channels"] for t in meta["texture_layers"]}
    vgg = {f"vgg19_64:relu{i}_1": c for i, c in zip(range(1, 6), (32, 64, 128, 256, 256), strict=True)}
    alex = {f"alexnet64:conv{i}": c for i, c in zip(range(1, 6), (64, 128, 192, 192, 128), strict=True)}
    assert list(textures) == [*vgg, *alex]
    assert textures == {**vgg, **alex}
    assert "chelsea" in meta["samples"]


def test_live_view_decodes_a_64px_png_with_its_distance(client: Any) -> None:
    info = view(client, image="sample:chelsea", rep="alexnet64:conv1")
    img = Image.open(io.BytesIO(png(info)))
    assert img.size == (64, 64) and img.mode == "RGB"
    assert 0.05 < info["distance"] < 0.6  # conv1 keeps the photo well: far below ~1, another photo's distance
    deeper = view(client, image="sample:chelsea", rep="alexnet64:fc7")
    assert deeper["distance"] > info["distance"]  # the error grows with depth
    assert set(info["ms"]) == {"code", "decode", "png", "total"}


def test_views_are_deterministic_and_every_edit_changes_the_picture(client: Any) -> None:
    base = dict(image="sample:coffee", rep="hog")
    plain = png(view(client, **base))
    assert png(view(client, **base)) == plain
    edits = [
        {"binarize": 1},
        {"dropout": 0.5},
        {"dropout": 0.5, "seed": 1},
        {"least": 0.5},
    ]
    seen = {plain}
    for edit in edits:
        out = png(view(client, **base, **edit))
        assert out == png(view(client, **base, **edit)), f"{edit} is not reproducible"
        assert out not in seen, f"{edit} did not change the reconstruction"
        seen.add(out)


def test_slider_moves_reuse_the_cached_code(client: Any, explorer: Explorer) -> None:
    view(client, image="sample:rocket", rep="alexnet64:conv4")
    cached = len(explorer.codes)
    for p in (0.1, 0.2, 0.3, 0.4):
        view(client, image="sample:rocket", rep="alexnet64:conv4", dropout=p)
    assert len(explorer.codes) == cached
    key = ("sample:rocket", "alexnet64:conv4", 64)
    assert explorer.codes.get(key) is not None


def test_download_url_gives_the_same_png_as_the_live_view(client: Any) -> None:
    params = dict(image="sample:coffee", rep="alexnet64:conv3", dropout=0.3)
    live = png(view(client, **params))
    download = client.get("/api/render.png", params={**params, "download": 1})
    assert download.status_code == 200 and download.content == live
    assert download.headers["content-type"] == "image/png"
    # the name says the edits, so two views of one photo download to two files
    assert (
        download.headers["content-disposition"] == 'attachment; filename="coffee_alexnet64-conv3_dropout0.3-seed0.png"'
    )
    inp = client.get("/api/image.png", params={"id": "sample:coffee", "download": 1})
    assert Image.open(io.BytesIO(inp.content)).size == (64, 64)


def test_unknown_representation_suggests_the_nearest(client: Any) -> None:
    msg = refused(client.get("/api/render", params={"image": "sample:chelsea", "rep": "hgo"}))
    assert "did you mean 'hog'" in msg
    msg = refused(client.get("/api/render", params={"image": "sample:chelsea", "rep": "alexnet64:conv9"}))
    assert "did you mean 'alexnet64:conv" in msg
    # a layer named as the paper does finds the alexnet64 layer
    assert view(client, image="sample:chelsea", rep="conv3")["rep"] == "alexnet64:conv3"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"dropout": "1.5"}, "dropout p must be between 0 and 0.99"),
        ({"dropout": "half"}, "must be a number"),
        ({"topk": 5}, "top-k classes apply to the class layers"),
        ({"t": "2", "mix": "sample:coffee"}, "interpolation t must be between 0 and 1"),
        ({"mix": "nope"}, "no image 'nope' is held"),
        ({"image": ""}, "no image: pick a sample photo or upload one"),
    ],
)
def test_bad_view_parameters_say_what_to_fix(client: Any, params: dict[str, Any], fragment: str) -> None:
    full = {"image": "sample:chelsea", "rep": "hog", **params}
    assert fragment in refused(client.get("/api/render", params=full))


def test_no_path_from_the_client_is_opened(client: Any) -> None:
    for image in ("../../../etc/passwd", "/etc/passwd", "sample:../../etc/passwd"):
        msg = refused(client.get("/api/render", params={"image": image, "rep": "hog"}))
        assert "root:" not in msg
    assert refused(client.get("/api/image.png", params={"id": "/etc/hostname"}))


def test_class_layers_keep_or_remove_the_top_k_classes_by_name(client: Any) -> None:
    base = dict(image="sample:chelsea", rep="alexnet64:fc8")
    full = view(client, **base)
    names = [c["name"] for c in full["classes"]]
    assert len(names) == 5 and all(n and not n.isdigit() for n in names)  # names from alexnet64_classes.tsv
    assert full["classes"] == full["input_classes"]
    top = view(client, **base, topk=5, topk_mode="top")
    assert {c["index"] for c in top["classes"]} == {c["index"] for c in full["input_classes"]}
    rest = view(client, **base, topk=5, topk_mode="rest")
    assert not {c["index"] for c in rest["classes"]} & {c["index"] for c in full["input_classes"]}
    prob = view(client, image="sample:chelsea", rep="alexnet64:prob", topk=1, topk_mode="top")
    assert prob["classes"][0]["index"] == full["input_classes"][0]["index"]


def test_interpolation_runs_from_the_first_code_to_the_second(client: Any) -> None:
    a = png(view(client, image="sample:chelsea", rep="alexnet64:fc6"))
    b = png(view(client, image="sample:coffee", rep="alexnet64:fc6"))
    at0 = png(view(client, image="sample:chelsea", rep="alexnet64:fc6", mix="sample:coffee", t=0))
    at1 = png(view(client, image="sample:chelsea", rep="alexnet64:fc6", mix="sample:coffee", t=1))
    half = png(view(client, image="sample:chelsea", rep="alexnet64:fc6", mix="sample:coffee", t=0.5))
    assert at0 == a and at1 == b and half not in (a, b)


def test_random_codes_follow_their_seed_and_have_no_distance(client: Any) -> None:
    base = dict(image="sample:chelsea", rep="alexnet64:conv5", random=1)
    r0 = view(client, **base, random_seed=0)
    assert r0["distance"] is None
    assert png(view(client, **base, random_seed=0)) == png(r0)
    assert png(view(client, **base, random_seed=1)) != png(r0)
    # the random code does not depend on the image
    assert png(view(client, **{**base, "image": "sample:coffee"}, random_seed=0)) == png(r0)


# ---- uploads


def test_upload_is_centre_cropped_as_the_cli_does(client: Any, explorer: Explorer) -> None:
    data = photo_bytes("PNG", (96, 80))
    response = client.post("/api/upload", content=data, headers={"X-Filename": "my%20photo.png"})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["name"] == "my photo.png" and (info["width"], info["height"]) == (96, 80)
    stored = explorer.images.get(info["id"])
    assert torch.equal(stored.at(64), fit_image(decode_image(data), 64, "center"))
    assert view(client, image=info["id"], rep="hog")["distance"] > 0


def test_huge_photos_are_reduced_before_they_become_float(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "REDUCE_ABOVE_PIXELS", 10_000)
    data = photo_bytes("PNG", (600, 520))
    reduced, source_hw = uploads.decode_upload(data, "big.png", min_side=64)
    assert reduced.shape == (3, 520 // 2, 600 // 2)  # factor 520 // 256 = 2
    assert source_hw == (520, 600)  # the size as uploaded, not as shrunk
    exact = center_crop(decode_image(data), 64)
    assert (center_crop(reduced, 64) - exact).abs().mean() < 0.02


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])  # 16-bit grey as Pillow reads it from each: I;16, I
def test_huge_wide_grey_photos_reduce_to_their_own_grey_not_white(
    fmt: str, monkeypatch: pytest.MonkeyPatch, client: Any
) -> None:
    # a 16-bit grey PNG converted to 8 bits for reducing clipped every pixel to white
    monkeypatch.setattr(uploads, "REDUCE_ABOVE_PIXELS", 10_000)
    ramp = np.tile(np.linspace(0, 65535, 600), (520, 1))
    buf = io.BytesIO()
    image = Image.fromarray(ramp.astype(np.uint16))
    (image if fmt == "PNG" else image.convert("I")).save(buf, format=fmt)
    reduced, _ = uploads.decode_upload(buf.getvalue(), "wide.png", min_side=64)
    exact = decode_image(buf.getvalue())  # the CLI's decoding, without reduction
    assert abs(float(reduced.mean()) - float(exact.mean())) < 0.01 and 0.4 < float(reduced.mean()) < 0.6
    response = client.post("/api/upload", content=buf.getvalue(), headers={"X-Filename": "wide.png"})
    assert (response.json()["width"], response.json()["height"]) == (600, 520)


@pytest.mark.parametrize("size", ["0", "6000", "-3", "abc"])
def test_image_png_refuses_sizes_out_of_range_in_one_line(size: str, client: Any) -> None:
    response = client.get(f"/api/image.png?id=sample:chelsea&size={size}")
    assert response.status_code == 400 and "from 8 to 512" in response.text


def test_upload_over_20_mb_is_refused_before_it_is_read(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="preimage.explore"):
        declared = client.post(
            "/api/upload", content=b"x" * 100, headers={"Content-Length": str(21 * 2**20), "X-Filename": "big.jpg"}
        )
    msg = refused(declared, 413)
    assert "21.0 MB" in msg and "20 MB" in msg
    assert [r for r in caplog.records if "413" in r.getMessage()], "no log line for the refused upload"

    def chunks() -> Any:  # no Content-Length: the server stops reading at the limit
        for _ in range(22):
            yield b"\0" * 2**20

    assert "20 MB" in refused(client.post("/api/upload", content=chunks()), 413)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "is empty"),
        (b"%PDF-1.4 definitely not a picture", "not an image Pillow can read"),
        (photo_bytes("PNG")[:300], "truncated or corrupt"),
        (photo_bytes("JPEG")[:400], "truncated or corrupt"),
    ],
    ids=["empty", "pdf", "truncated-png", "truncated-jpeg"],
)
def test_bad_uploads_get_one_clear_sentence(
    client: Any, caplog: pytest.LogCaptureFixture, data: bytes, fragment: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="preimage.explore"):
        msg = refused(client.post("/api/upload", content=data, headers={"X-Filename": "holiday.jpg"}))
    assert fragment in msg and "holiday.jpg" in msg
    lines = [r.getMessage() for r in caplog.records if r.name == "preimage.explore"]
    assert len(lines) == 1 and fragment in lines[0] and "\n" not in lines[0]


def test_decompression_bombs_are_refused(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)  # 96x80 = 7680 pixels: over the limit, under twice it
    msg = refused(client.post("/api/upload", content=photo_bytes("PNG", (96, 80))))
    assert "decompression-bomb limit" in msg
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # over twice the limit: Pillow raises at open
    assert "decompression-bomb limit" in refused(client.post("/api/upload", content=photo_bytes("PNG", (96, 80))))


def test_client_file_names_are_only_labels() -> None:
    assert uploads.clean_name("..%2F..%2Fetc%2Fpasswd") == "....etcpasswd"
    assert uploads.clean_name("<script>x</script>.png") == "scriptxscript.png"
    assert uploads.clean_name(None) == "upload"
    assert len(uploads.clean_name("a" * 500)) == 80


# ---- jobs through the API


def wait_done(client: Any, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
        if jobs[job_id]["status"] not in ("queued", "running"):
            return jobs[job_id]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_texture_and_optimisation_jobs_run_in_the_background(client: Any) -> None:
    tex = client.post(
        "/api/jobs",
        json={"kind": "texture", "image": "sample:chelsea", "layer": "vgg19_64:relu1_1", "channel": 3, "steps": 12},
    )
    assert tex.status_code == 202, tex.text
    opt = client.post(
        "/api/jobs", json={"kind": "optimize", "image": "sample:chelsea", "rep": "hog", "dropout": 0.3, "steps": 12}
    )
    assert opt.status_code == 202, opt.text
    # the live decoder answers while the jobs run
    assert view(client, image="sample:chelsea", rep="alexnet64:conv2")["distance"] > 0
    for job in (tex.json(), opt.json()):
        done = wait_done(client, job["id"])
        assert done["status"] == "done", done
        assert done["step"] == 12 and done["progress"] == 1.0
        image = client.get(done["url"])
        assert Image.open(io.BytesIO(image.content)).size == (64, 64)
        download = client.get(done["url"], params={"download": 1})
        assert download.content == image.content
        assert download.headers["content-disposition"].startswith(f'attachment; filename="{job["kind"]}_')


def test_sample_jobs_give_different_preimages_of_one_code(client: Any) -> None:
    body = {"kind": "sample", "image": "sample:chelsea", "rep": "alexnet64:conv3", "steps": 30}
    pngs = []
    for seed in (0, 1):
        job = client.post("/api/jobs", json={**body, "sample_seed": seed})
        assert job.status_code == 202, job.text
        done = wait_done(client, job.json()["id"])
        assert done["status"] == "done" and done["step"] == 30, done
        pngs.append(np.asarray(Image.open(io.BytesIO(client.get(done["url"]).content)), dtype=np.float64) / 255)
    # seeded noise makes two pre-images of one code; a job that ignored the seed would give the same image twice
    assert np.abs(pngs[0] - pngs[1]).mean() > 0.01
    # and each is an image of the photo, not noise: nearer to the photo than to the photo upside down
    photo = np.asarray(Image.open(io.BytesIO(client.get("/api/image.png", params={"id": "sample:chelsea"}).content)))
    photo = photo.astype(np.float64) / 255
    for png in pngs:
        assert np.abs(png - photo).mean() < np.abs(png - photo[::-1]).mean()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"kind": "optimize", "image": "sample:chelsea", "rep": "lbp", "steps": 5}, "not differentiable"),
        ({"kind": "sample", "image": "sample:chelsea", "rep": "lbp", "steps": 5}, "not differentiable"),
        (
            {"kind": "texture", "image": "sample:chelsea", "layer": "alexnet64:conv2", "channel": 128, "steps": 5},
            "0..127",
        ),
        (
            {"kind": "texture", "image": "sample:chelsea", "layer": "alexnet64:fc7", "channel": 0, "steps": 5},
            "texture layer",
        ),
        (
            {"kind": "texture", "image": "sample:chelsea", "layer": "vgg19_64:relu2_2", "channel": 0, "steps": 5},
            "relu2_1",
        ),
        (
            {"kind": "texture", "image": "sample:chelsea", "layer": "vgg19_64:relu2_1", "channel": 0, "steps": 51},
            "from 1 to",
        ),
        ({"kind": "paint", "image": "sample:chelsea"}, "unknown job kind"),
    ],
)
def test_bad_jobs_are_refused_when_submitted(client: Any, body: dict[str, Any], fragment: str) -> None:
    assert fragment in refused(client.post("/api/jobs", json=body))


def test_unknown_job_is_404(client: Any) -> None:
    assert "no job" in refused(client.get("/api/jobs/j999.png"), 404)
    assert "no job" in refused(client.delete("/api/jobs/j999"), 404)


def test_static_files_do_not_escape_their_folder(client: Any) -> None:
    for path in ("/static/../app.py", "/static/..%2f..%2fexplore%2fapp.py", "/static/%2e%2e/%2e%2e/errors.py"):
        response = client.get(path)
        assert response.status_code == 404, path


def test_a_224px_decoder_in_the_zoo_is_offered_and_decodes_to_64px(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full-resolution decoders, once shipped: features of the 224-px crop, decoded to 64 px."""
    from starlette.testclient import TestClient

    from preimage.explore import create_app
    from preimage.explore import inverters as inv
    from preimage.inverters.decoders import Decoder, DecoderArch

    shipped = inv.rep_choices()
    monkeypatch.setattr(inv, "rep_choices", lambda: [*shipped, inv.RepChoice("hog", 224)])
    real = Decoder.from_pretrained

    def from_pretrained(rep: str, variant: str | None = None, size: int = 64) -> Decoder:
        if size == 224:  # an untrained decoder of the 224-px protocol's shapes: HOG cells of 8 px -> 28x28
            torch.manual_seed(0)
            return Decoder(DecoderArch("hog", (31, 28, 28), output_size=64, width=8, input_size=224)).eval()
        return real(rep, variant, size)

    monkeypatch.setattr(Decoder, "from_pretrained", from_pretrained)
    ex = Explorer(max_pending=1, max_steps=5)
    try:
        with TestClient(create_app(ex)) as test_client:
            keys = [r["key"] for r in test_client.get("/api/meta").json()["reps"]]
            assert "hog 224px" in keys and "hog" in keys
            info = view(test_client, image="sample:astronaut", rep="hog 224px", dropout=0.2)
            assert Image.open(io.BytesIO(png(info))).size == (64, 64)
            assert info["distance"] > 0
            assert ex.codes.get(("sample:astronaut", "hog", 224)).shape == (1, 31, 28, 28)
            assert ex.images.get("sample:astronaut").at(224).shape == (3, 224, 224)
    finally:
        ex.close()


def test_a_texture_job_without_a_layer_takes_the_default_the_page_selects(client: Any) -> None:
    meta = client.get("/api/meta").json()
    assert meta["texture_default"] == "vgg19_64:relu2_1"
    job = client.post("/api/jobs", json={"kind": "texture", "image": "sample:chelsea", "channel": 2, "steps": 3})
    assert job.status_code == 202, job.text
    assert job.json()["label"] == "vgg19_64:relu2_1 filter 2 of chelsea"
    assert wait_done(client, job.json()["id"])["status"] == "done"


def test_without_texture_networks_the_page_is_told_and_a_texture_job_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from starlette.testclient import TestClient

    from preimage.explore import create_app
    from preimage.explore import inverters as inv

    monkeypatch.setattr(inv, "texture_layer_keys", lambda: ())
    ex = Explorer(max_pending=1, max_steps=5)
    try:
        with TestClient(create_app(ex)) as test_client:
            meta = test_client.get("/api/meta").json()
            assert meta["texture_layers"] == [] and meta["texture_default"] is None
            body = {"kind": "texture", "image": "sample:chelsea", "channel": 0, "steps": 3}
            assert "no texture layers" in refused(test_client.post("/api/jobs", json=body))
    finally:
        ex.close()


def test_loopback_hosts_and_a_busy_port() -> None:
    from preimage.errors import PreimageError
    from preimage.explore.app import bind, is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "example.org"))
    first = bind("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(PreimageError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)
    finally:
        first.close()


def test_keep_top_1_lists_one_class_not_the_tied_zeros(client: Any) -> None:
    info = view(client, image="sample:chelsea", rep="alexnet64:fc8", topk=1, topk_mode="top")
    assert len(info["classes"]) == 1 and info["classes"][0]["name"] == info["input_classes"][0]["name"]
    assert len(view(client, image="sample:chelsea", rep="alexnet64:fc8")["classes"]) > 1


def test_a_random_code_with_towards_and_seeds_out_of_range_are_plain_errors(client: Any) -> None:
    base = {"image": "sample:chelsea", "rep": "alexnet64:conv3"}
    msg = refused(client.get("/api/render", params={**base, "random": 1, "mix": "sample:coffee", "t": 0.5}))
    assert "no photo to move from" in msg
    msg = refused(client.get("/api/render", params={**base, "random": 1, "random_seed": 2**31}))
    assert "from 0 to 2147483647" in msg and "e+09" not in msg


def test_every_layer_offers_its_linear_baseline_beside_the_decoder(client: Any) -> None:
    meta = client.get("/api/meta").json()
    variants = {r["key"]: r["variants"] for r in meta["reps"]}
    assert all("linear" in variants[f"alexnet64:{la}"] for la in ("conv1", "conv5", "fc6", "fc7", "fc8", "prob"))
    assert "fast" in variants["hog"]
    base = dict(image="sample:astronaut", rep="alexnet64:fc8")
    learned, linear = view(client, **base), view(client, **base, variant="linear")
    assert linear["variant"] == "linear" and png(linear) != png(learned)
    # ridge regression predicts an 8x8 thumbnail: the 64-px picture is its bilinear upsampling, so it is smooth
    img = np.asarray(Image.open(io.BytesIO(png(linear))), dtype=np.float64) / 255
    small = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((8, 8), Image.BOX), dtype=np.float64)
    again = np.asarray(Image.fromarray(small.astype(np.uint8)).resize((64, 64), Image.BILINEAR), dtype=np.float64)
    assert np.abs(again / 255 - img).mean() < 0.03
    msg = refused(client.get("/api/render", params={**base, "variant": "linaer"}))
    assert "did you mean 'linear'" in msg
