from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from preimage.explore import Explorer, create_app


@pytest.fixture(scope="session")
def explorer() -> Iterator[Explorer]:
    """One explorer for the whole session: models and codes load once."""
    ex = Explorer(max_pending=2, max_steps=50)
    yield ex
    ex.close()


@pytest.fixture(scope="session")
def client(explorer: Explorer) -> Iterator[object]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")  # starlette's note: httpx2 will replace httpx
        from starlette.testclient import TestClient

        with TestClient(create_app(explorer)) as test_client:
            yield test_client


def photo_bytes(fmt: str = "PNG", size: tuple[int, int] = (96, 80)) -> bytes:
    """A small photo-like image (a smooth colour gradient with noise), encoded."""
    rng = np.random.default_rng(0)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx / w, yy / h, 0.5 + 0 * xx], axis=-1) * 200 + rng.integers(0, 40, (h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server_url(explorer: Explorer) -> Iterator[str]:
    """The explorer served by uvicorn on a free port of 127.0.0.1, in a thread of this process."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(explorer), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = os.environ.get("PREIMAGE_SCREENSHOTS")  # a folder: the browser test saves its screenshots there


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium driven by Selenium through the system chromedriver (no download)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "chromium or chromedriver absent (apt-get install chromium chromium-driver) — browser tests skipped"
        )
    pytest.importorskip("selenium", reason="selenium absent (pip install -e '.[dev]') — browser tests skipped")
    driver = headless_chromium("1320,1000", "--disable-gpu")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def headless_chromium(window_size: str, *extra_args: str) -> Any:
    """Debian's chromium, headless, through the system chromedriver (the tests and the screenshots)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={window_size}",
        "--force-device-scale-factor=1",
        *extra_args,
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def screenshot_dir(tmp_path: Path) -> Path:
    return Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
