"""The explorer in a real browser: headless chromium, driven by Selenium, against uvicorn on a free port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.explore.conftest import screenshot_dir

WAIT = 60  # seconds; the machine runs trainings beside the tests


def _wait(driver: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)
    except TimeoutException:
        error = driver.find_element("id", "error")
        raise AssertionError(f"timed out waiting for {what}; page error box: {error.text!r}") from None


def _recon_view(driver: Any) -> str:
    return str(driver.find_element("id", "recon-img").get_attribute("data-view") or "")


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    _wait(driver, lambda d: d.find_elements("css selector", "#rep option"), "the representation menu")


def _select(driver: Any, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def _png_shown(driver: Any) -> bool:
    return bool(
        driver.execute_script(
            "const i = document.getElementById('recon-img');"
            "return i.complete && i.naturalWidth === 64 && i.src.startsWith('data:image/png');"
        )
    )


def test_pick_sample_and_layer_then_dropout_slider_changes_the_reconstruction(
    browser: Any, server_url: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    driver = browser
    _open(driver, server_url)
    _select(driver, "image", "sample:coffee")
    _select(driver, "rep", "alexnet64:conv2")
    _wait(
        driver,
        lambda d: "image=sample%3Acoffee" in _recon_view(d) and "conv2" in _recon_view(d) and _png_shown(d),
        "the conv2 reconstruction of coffee",
    )
    before = driver.find_element("id", "recon-img").get_attribute("src")
    distance = driver.find_element("id", "distance").text
    assert distance.startswith("distance 0."), distance
    assert driver.find_element("id", "error").is_displayed() is False

    slider = driver.find_element("id", "dropout")
    for _ in range(10):  # 10 steps of 0.05: p = 0.5
        slider.send_keys(Keys.ARROW_RIGHT)
    _wait(driver, lambda d: "dropout=0.5" in _recon_view(d) and _png_shown(d), "the reconstruction at dropout 0.5")
    after = driver.find_element("id", "recon-img").get_attribute("src")
    assert after != before, "the reconstruction did not change when the dropout slider moved"
    assert driver.find_element("css selector", "output[for=dropout]").text == "0.5"
    # the download link asks the server for this very view
    assert "dropout=0.5" in str(driver.find_element("id", "recon-dl").get_attribute("href"))
    driver.save_screenshot(str(screenshot_dir(tmp_path) / "explore_dropout.png"))


def test_upload_of_a_corrupt_file_shows_the_error_in_the_page(browser: Any, server_url: str, tmp_path: Path) -> None:
    driver = browser
    _open(driver, server_url)
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
    driver.find_element("id", "upload").send_keys(str(bad))
    error = _wait(
        driver, lambda d: d.find_element("id", "error") if d.find_element("id", "error").text else False, "an error"
    )
    assert error.is_displayed()
    assert "holiday.jpg" in error.text
    assert "corrupt" in error.text or "not an image" in error.text, error.text
    assert "Traceback" not in driver.page_source


def test_upload_of_a_photo_is_reconstructed(browser: Any, server_url: str, tmp_path: Path) -> None:
    from tests.explore.conftest import photo_bytes

    driver = browser
    _open(driver, server_url)
    good = tmp_path / "gradient.png"
    good.write_bytes(photo_bytes())
    driver.find_element("id", "upload").send_keys(str(good))
    _wait(driver, lambda d: "sample" not in _recon_view(d) and _png_shown(d), "the uploaded photo's reconstruction")
    assert driver.find_element("id", "image").get_attribute("value") in _recon_view(driver)
    assert "gradient.png" in driver.find_element("id", "input-name").text


@pytest.mark.slow
def test_class_layer_interpolation_and_a_texture_job(browser: Any, server_url: str, tmp_path: Path) -> None:
    driver = browser
    _open(driver, server_url)
    _select(driver, "image", "sample:chelsea")
    _select(driver, "rep", "alexnet64:fc8")
    _wait(driver, lambda d: d.find_element("id", "topk-box").is_displayed(), "the top-k controls")
    _select(driver, "topk-mode", "top")
    _select(driver, "mix", "sample:coffee")
    _wait(
        driver,
        lambda d: "topk_mode=top" in _recon_view(d) and "mix=" in _recon_view(d) and _png_shown(d),
        "the interpolated top-5 view",
    )
    classes = driver.find_elements("css selector", "#classes-code li")
    assert len(classes) == 5 and all("%" in li.text for li in classes)
    assert driver.find_element("id", "mix-card").is_displayed()
    learned = driver.find_element("id", "recon-img").get_attribute("src")
    _select(driver, "variant", "linear")  # the control every decoder must beat, on the same edited code
    _wait(driver, lambda d: "variant=linear" in _recon_view(d) and _png_shown(d), "the linear baseline's view")
    assert driver.find_element("id", "recon-img").get_attribute("src") != learned
    assert "linear baseline" in driver.find_element("id", "recon-rep").text
    _select(driver, "rep", "alexnet64:conv1")  # the choice of decoder holds across layers that ship it
    _wait(driver, lambda d: "conv1" in _recon_view(d) and "variant=linear" in _recon_view(d), "conv1's linear view")
    _select(driver, "variant", "")
    _select(driver, "rep", "alexnet64:fc8")
    driver.find_element("id", "tex-steps").clear()
    driver.find_element("id", "tex-steps").send_keys("20")
    driver.find_element("id", "tex-run").click()
    # the texture layer selected at start is Xia et al.'s: vgg19_64 relu2_1
    texture = "vgg19_64:relu2_1 filter 0 of chelsea"
    _wait(driver, lambda d: texture in d.find_element("id", "gallery").text, "the texture")
    img = driver.find_element("css selector", "#gallery figure img")  # the newest result comes first
    assert img.get_attribute("alt") == texture
    _wait(driver, lambda d: d.execute_script("return arguments[0].naturalWidth", img) == 64, "the texture image")
    driver.save_screenshot(str(screenshot_dir(tmp_path) / "explore_classes.png"))


def test_rough_edges_job_rows_stay_put_errors_stay_and_modes_say_what_they_use(browser: Any, server_url: str) -> None:
    driver = browser
    _open(driver, server_url)
    assert driver.execute_script("return document.querySelector('label[for=rep]') !== null")
    # the 224-px decoders see the photo at 224 px, and the input card says so
    _select(driver, "rep", "hog 224px")
    _wait(driver, lambda d: "224 px" in d.find_element("id", "input-size").text, "the 224-px input card")
    _select(driver, "rep", "alexnet64:conv3")
    # an empty seed is an error on the page, and the stale reconstruction is marked
    set_value = (
        "const e = document.getElementById(arguments[0]); e.value = arguments[1]; e.dispatchEvent(new Event('input'));"
    )
    driver.execute_script(set_value, "dropout", "0.2")
    driver.execute_script(set_value, "seed", "")
    _wait(driver, lambda d: "dropout seed is empty" in d.find_element("id", "error").text, "the empty-seed error")
    assert driver.find_element("id", "recon-stale").is_displayed()
    driver.execute_script(set_value, "seed", "3")
    _wait(driver, lambda d: not d.find_element("id", "recon-stale").is_displayed(), "the view to render again")
    # a random code has no input photo and no 'towards'
    _select(driver, "mix", "sample:coffee")
    driver.find_element("id", "random").click()
    _wait(driver, lambda d: "random=1" in _recon_view(d), "the random-code view")
    assert not driver.find_element("id", "input-card").is_displayed()
    assert not driver.find_element("id", "mix").is_enabled() and "mix=" not in _recon_view(driver)
    driver.find_element("id", "random").click()
    # a queued job's row is made once: its cancel button is the same element poll after poll
    driver.find_element("id", "opt-steps").clear()
    driver.find_element("id", "opt-steps").send_keys("50")
    driver.find_element("id", "opt-run").click()
    driver.find_element("id", "opt-run").click()  # the second waits in the queue behind the first
    _wait(driver, lambda d: len(d.find_elements("css selector", "#queue button")) == 2, "two jobs' cancel buttons")
    driver.execute_script("window.__cancel = document.querySelectorAll('#queue button')[1]")
    import time

    job = driver.execute_script("return window.__cancel.closest('.job').dataset.job")
    time.sleep(1.0)  # several polls at 400 ms
    # the row is the same element while its job is listed: gone only because the job ended
    fetch = "fetch('/api/jobs').then(r => r.json()).then(j => arguments[0](j.jobs))"
    status = {j["id"]: j["status"] for j in driver.execute_async_script(fetch)}[job]
    assert driver.execute_script("return window.__cancel.isConnected") or status not in ("queued", "running")
    if status in ("queued", "running"):
        driver.execute_script("window.__cancel.click()")
    _wait(
        driver,
        lambda d: (
            "cancel" in d.find_element("id", "queue").text.lower()
            or len(d.find_elements("css selector", "#queue .job")) < 2
        ),
        "the job to go",
    )


def test_the_sample_button_gives_a_new_preimage_per_click_with_the_sharp_decoder(browser: Any, server_url: str) -> None:
    driver = browser
    _open(driver, server_url)
    _select(driver, "image", "sample:chelsea")
    _select(driver, "rep", "alexnet64:conv5")
    _select(driver, "variant", "sharp")  # the DeePSiM decoder ships for conv5: the menu offers it
    _wait(driver, lambda d: "variant=sharp" in _recon_view(d) and _png_shown(d), "the sharp decoder's view")
    driver.find_element("id", "sample-steps").clear()
    driver.find_element("id", "sample-steps").send_keys("20")
    driver.find_element("id", "sample-run").click()
    driver.find_element("id", "sample-run").click()

    # the server is shared with the other tests: their finished jobs are in the gallery too
    def samples(d: Any) -> list[Any]:
        found = d.find_elements("css selector", "#gallery figure img")
        return [i for i in found if str(i.get_attribute("alt")).startswith("alexnet64:conv5 of chelsea, seed")]

    _wait(driver, lambda d: len(samples(d)) == 2, "two samples")
    imgs = samples(driver)
    for img in imgs:
        _wait(driver, lambda d, img=img: d.execute_script("return arguments[0].naturalWidth", img) == 64, "a sample")
    # each click draws a new seed: two different pre-images of one code
    assert sorted(i.get_attribute("alt") for i in imgs) == [
        "alexnet64:conv5 of chelsea, seed 0",
        "alexnet64:conv5 of chelsea, seed 1",
    ]
    fetch = "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => arguments[1](Array.from(new Uint8Array(b))))"
    pngs = [bytes(driver.execute_async_script(fetch, i.get_attribute("src"))) for i in imgs]
    assert pngs[0] != pngs[1]
