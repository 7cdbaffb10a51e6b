"""The README's two screenshots of the explorer, taken in headless chromium (not a test; run it by hand).

    python -m tests.explore.make_screenshots [docs/img]

1. ``explore_live.png``: conv3 of a photo on its way to another (interpolation), with the finished textures
   and optimisation jobs beside it.
2. ``explore_classes.png``: fc8 without its top-5 classes, the class names, and a texture job in progress.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from selenium.webdriver.support.ui import Select, WebDriverWait

from preimage.explore import Explorer, create_app
from tests.explore.conftest import CHROMEDRIVER, CHROMIUM, free_port, headless_chromium


def wait(driver: Any, condition: Any) -> Any:
    return WebDriverWait(driver, 120, poll_frequency=0.1).until(condition)


def settle(driver: Any, fragment: str) -> None:
    wait(
        driver,
        lambda d: (
            fragment in str(d.find_element("id", "recon-img").get_attribute("data-view") or "")
            and d.execute_script("return document.getElementById('recon-img').naturalWidth") == 64
        ),
    )
    time.sleep(0.5)


def main(out: Path) -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        raise SystemExit("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    explorer = Explorer(max_pending=8, max_steps=1000)
    for channel in (17, 5, 40, 60):
        explorer.submit_job(
            {
                "kind": "texture",
                "image": "sample:chelsea",
                "layer": "vgg19_64:relu2_1",
                "channel": channel,
                "steps": 200,
            }
        )
    explorer.submit_job({"kind": "optimize", "image": "sample:chelsea", "rep": "alexnet64:conv3", "steps": 200})
    explorer.submit_job({"kind": "optimize", "image": "sample:chelsea", "rep": "hog", "steps": 200})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(explorer), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    while explorer.jobs.pending() or any(j["status"] == "running" for j in explorer.jobs.snapshot()):
        time.sleep(0.5)

    driver = headless_chromium("1400,1180", "--hide-scrollbars")
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait(driver, lambda d: d.find_elements("css selector", "#rep option"))
        Select(driver.find_element("id", "image")).select_by_value("sample:chelsea")
        Select(driver.find_element("id", "rep")).select_by_value("alexnet64:conv3")
        Select(driver.find_element("id", "mix")).select_by_value("sample:coffee")
        driver.execute_script(
            "const t = document.getElementById('t'); t.value = 0.35;t.dispatchEvent(new Event('input'));"
        )
        settle(driver, "t=0.35")
        wait(driver, lambda d: len(d.find_elements("css selector", "#gallery figure")) == 6)
        time.sleep(1)
        driver.save_screenshot(str(out / "explore_live.png"))

        Select(driver.find_element("id", "mix")).select_by_value("")
        Select(driver.find_element("id", "image")).select_by_value("sample:coffee")
        Select(driver.find_element("id", "rep")).select_by_value("alexnet64:fc8")
        Select(driver.find_element("id", "topk-mode")).select_by_value("rest")
        settle(driver, "topk_mode=rest")
        driver.find_element("id", "tex-layer").send_keys("vgg19_64:relu3_1")
        driver.find_element("id", "tex-steps").clear()
        driver.find_element("id", "tex-steps").send_keys("1000")
        driver.find_element("id", "tex-run").click()
        wait(
            driver,
            lambda d: d.execute_script(
                "const b = document.querySelector('#queue progress');return b !== null && b.value > 0.1"
            ),
        )
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(out / "explore_classes.png"))
    finally:
        driver.quit()
        server.should_exit = True
        explorer.close()
    print(f"wrote {out / 'explore_live.png'} and {out / 'explore_classes.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
