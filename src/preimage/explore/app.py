"""HTTP routes of ``preimage explore``: a Starlette app serving one plain HTML/JS page and a small JSON API.

Routes (every image is also a download: the same URL with ``download=1``):

- ``GET /``: the page; ``GET /static/...``: its script and style (package data, nothing from the internet).
- ``GET /api/meta``: representations, sample photos, texture layers, limits.
- ``POST /api/upload``: the raw image bytes as the body (``X-Filename`` names it) -> an image id.
- ``GET /api/image.png?id=&size=``: the image as the representations see it.
- ``GET /api/render?image=&rep=&...``: the live view as JSON (PNG inline, distance, classes, timings);
  ``GET /api/render.png?...``: the same view's PNG.
- ``POST /api/jobs`` (JSON), ``GET /api/jobs``, ``GET /api/jobs/{id}.png``, ``DELETE /api/jobs/{id}``.

Errors are JSON ``{"error": "..."}`` with a 4xx status and one log line; never a traceback.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import socket
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from preimage.errors import PreimageError
from preimage.explore.explorer import Explorer
from preimage.explore.jobs import QueueFull
from preimage.explore.uploads import MAX_UPLOAD_BYTES, clean_name, too_large

log = logging.getLogger("preimage.explore")
STATIC = Path(str(resources.files("preimage.explore") / "static"))
# sides /api/image.png serves: the inputs are shown at 64-256 px; a side of thousands costs a gigabyte a request
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 512


class HTTPProblem(PreimageError):
    """A user error with its HTTP status (413 too large, 429 queue full, 404 unknown job)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _problem(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status", 429 if isinstance(exc, QueueFull) else 400)
    log.warning("%s %s refused (%d): %s", request.method, request.url.path, status, exc)
    return JSONResponse({"error": str(exc)}, status_code=status)


def _png(data: bytes, filename: str, download: bool) -> Response:
    headers = {"Cache-Control": "no-store"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(data, media_type="image/png", headers=headers)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:120]


class Handlers:
    """The explorer's HTTP endpoints over one :class:`Explorer`: each parses its request, asks the explorer
    and answers; a :class:`PreimageError` becomes a one-line problem response (see ``_problem``)."""

    def __init__(self, ex: Explorer) -> None:
        self.ex = ex

    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    def meta(self, request: Request) -> Response:
        return JSONResponse(self.ex.meta())

    async def upload(self, request: Request) -> Response:
        name = clean_name(request.headers.get("x-filename"))
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
            raise HTTPProblem(str(too_large(int(declared))), 413)
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_UPLOAD_BYTES:  # no or a false Content-Length: stop reading at the limit
                raise HTTPProblem(f"{too_large(len(body))} (stopped reading at the limit)", 413)
        stored = await run_in_threadpool(self.ex.upload, bytes(body), name)
        log.info("upload %s: %s, %dx%d", stored.id, stored.name, stored.source_hw[1], stored.source_hw[0])
        return JSONResponse(self.ex.image_info(stored))

    def image_png(self, request: Request) -> Response:
        image_id = request.query_params.get("id", "")
        size = request.query_params.get("size", "64")
        if not size.isdigit() or not MIN_IMAGE_SIZE <= int(size) <= MAX_IMAGE_SIZE:
            raise PreimageError(
                f"size must be a whole number of pixels from {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE}, got {size[:20]!r}"
            )
        stored = self.ex.images.get(image_id)
        data = self.ex.input_png(image_id, int(size))
        return _png(data, f"{_slug(stored.name)}_{size}px.png", "download" in request.query_params)

    def render(self, request: Request) -> Response:
        view = self.ex.parse(request.query_params)
        png, info = self.ex.render(view)
        return JSONResponse({**info, "png": "data:image/png;base64," + base64.b64encode(png).decode()})

    def render_png(self, request: Request) -> Response:
        view = self.ex.parse(request.query_params)
        png, _ = self.ex.render(view)
        source = "random-code" if view.random_seed is not None else self.ex.images.get(view.image).name
        name = f"{_slug(source)}_{_slug(view.slug())}.png"
        return _png(png, name, "download" in request.query_params)

    async def submit_job(self, request: Request) -> Response:
        try:
            params: Any = await request.json()
        except ValueError:
            raise PreimageError("the job request is not JSON") from None
        if not isinstance(params, dict):
            raise PreimageError("the job request must be a JSON object")
        job = await run_in_threadpool(self.ex.submit_job, params)
        return JSONResponse(job.as_dict(), status_code=202)

    def list_jobs(self, request: Request) -> Response:
        return JSONResponse({"jobs": self.ex.jobs.snapshot(), "pending": self.ex.jobs.pending()})

    def job_png(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        try:
            job = self.ex.jobs.get(job_id)
        except PreimageError as err:
            raise HTTPProblem(str(err), 404) from None
        if job.png is None:
            raise HTTPProblem(f"job {job_id} has no image ({job.status})", 404)
        return _png(job.png, f"{_slug(job.kind)}_{_slug(job.label)}.png", "download" in request.query_params)

    def cancel_job(self, request: Request) -> Response:
        try:
            job = self.ex.jobs.cancel(request.path_params["job_id"])
        except PreimageError as err:
            raise HTTPProblem(str(err), 404) from None
        return JSONResponse(job.as_dict())


def create_app(explorer: Explorer | None = None) -> Starlette:
    """The explorer's web app; pass an :class:`Explorer` to share one (tests), else one is made."""
    ex = explorer if explorer is not None else Explorer()
    h = Handlers(ex)
    routes = [
        Route("/", h.index),
        Route("/api/meta", h.meta),
        Route("/api/upload", h.upload, methods=["POST"]),
        Route("/api/image.png", h.image_png),
        Route("/api/render", h.render),
        Route("/api/render.png", h.render_png),
        Route("/api/jobs", h.submit_job, methods=["POST"]),
        Route("/api/jobs", h.list_jobs, methods=["GET"]),
        Route("/api/jobs/{job_id}.png", h.job_png),
        Route("/api/jobs/{job_id}", h.cancel_job, methods=["DELETE"]),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={PreimageError: _problem})
    app.state.explorer = ex
    return app


def serve(host: str = "127.0.0.1", port: int = 7860, explorer: Explorer | None = None) -> None:
    """Serve the explorer until interrupted (uvicorn, one process; live requests run in its thread pool)."""
    import uvicorn

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="preimage explore: %(message)s")
    sock = bind(host, port)  # before anything is announced: a busy port is one line, not "serving on" then a failure
    ex = explorer if explorer is not None else Explorer()
    app = create_app(ex)
    # bounded connections: a client cannot open thousands; each live request is short
    config = uvicorn.Config(app, log_level="warning", limit_concurrency=64, timeout_keep_alive=30)
    log.info("serving on http://%s:%d/ (Ctrl-C stops)", host if ":" not in host else f"[{host}]", port)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        ex.close()
        sock.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line error naming why not (a busy port, an unknown host)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as err:
        raise PreimageError(f"`host={host}`: not an address of this machine ({err.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise PreimageError(
            f"cannot listen on {host}:{port} ({err.strerror}) — pick another `port`, or stop what is using it"
        ) from None
    return sock


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, any of 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
