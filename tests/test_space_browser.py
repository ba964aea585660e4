"""End to end in a real browser: Debian's Chromium (driven by Selenium through Debian's chromedriver) uploads a
clip to the Space, clicks Analyze and sees the answer stream in, then the emotion chips; clicks every example
and Analyze after it; checks text contrast (WCAG AA) and that nothing is clipped on a 390 px wide phone.

Chromium comes from apt (`make browser`; test tools cannot download browsers here). Without it the test skips,
saying why — except under CI=true, where it fails: CI installs Chromium, so its absence is a broken set-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI, REPO_ROOT
from tests.test_space_support import ANSWER, FakePipeline, load_app, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine refuses background networking; CI gains nothing from it
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
)


def _binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


def _install_chromium() -> None:
    """Try the Makefile's `browser` target (apt) once, where we are allowed to: root with apt-get."""
    if os.geteuid() == 0 and shutil.which("apt-get") and shutil.which("make"):
        subprocess.run(
            ["make", "-s", "browser"], cwd=REPO_ROOT, timeout=600, capture_output=True, check=False
        )


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    browser, driver = _binaries()
    if not (browser and driver):
        _install_chromium()
        browser, driver = _binaries()
    if browser and driver:
        return browser, driver
    reason = (
        "Chromium/chromedriver not found and `make browser` (apt-get install chromium chromium-driver) failed"
    )
    if IN_CI:
        pytest.fail(f"{reason}; CI must provide them")
    pytest.skip(reason)


def _driver(chromium, profile: Path, width: int | None = None):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")  # fresh profile per test
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path keeps Selenium Manager from trying to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    if width is not None:  # headless windows are at least 500 px wide: emulate the phone's viewport instead
        metrics = {"width": width, "height": 1600, "deviceScaleFactor": 1, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    return driver


@pytest.fixture
def browser(chromium, tmp_path):
    driver = _driver(chromium, tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


def _answer(driver) -> str:
    from selenium.webdriver.common.by import By

    boxes = driver.find_elements(By.CSS_SELECTOR, "#answer textarea")
    return boxes[0].get_attribute("value") if boxes else ""


def test_upload_analyze_and_watch_the_answer_stream(browser, mp4_with_audio, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    app = load_app()
    demo = app.build_app(FakePipeline(delay=0.15))  # slow enough that partial answers are visible
    with serve(demo, app) as url:
        browser.get(url)
        wait = WebDriverWait(browser, 60)
        upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
        upload.send_keys(str(Path(mp4_with_audio).resolve()))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "video")))  # the upload finished
        wait.until(ec.element_to_be_clickable((By.ID, "analyze"))).click()

        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not seen or seen[-1] != ANSWER["description"]):
            text = _answer(browser)
            if text and (not seen or text != seen[-1]):
                seen.append(text)
            time.sleep(0.05)
        assert seen and seen[-1] == ANSWER["description"], f"answer never completed: {seen[-3:]}"
        assert len(seen) >= 3, f"the answer did not stream (saw {seen})"
        # The chips arrive with the last update, just after the final text.
        chips = wait.until(lambda d: "surprised" in (t := d.find_element(By.ID, "chips").text) and t)
        assert "happy" in chips
        if os.environ.get("SPACE_SCREENSHOT"):  # for looking at the page by hand
            browser.save_screenshot(os.environ["SPACE_SCREENSHOT"])


# Relative luminance and contrast ratio as WCAG 2.x defines them; the background is the element's own or the
# first opaque one above it, semi-transparent layers blended over it.
_CONTRAST_JS = """
function rgba(c) {
  const m = c.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(parseFloat);
  return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
}
function over(top, under) {
  const a = top[3];
  return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a));
}
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let out = [255, 255, 255];
  for (let i = layers.length - 1; i >= 0; i--) out = over(layers[i], out);
  return out;
}
function lum(rgb) {
  const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2]);
}
const bad = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  const text = node.textContent.trim();
  if (!text || !el || el.closest("svg, script, style, video, [aria-hidden=true]")) continue;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  if (style.visibility === "hidden" || style.display === "none" || box.width === 0 || box.height === 0) continue;
  if (parseFloat(style.opacity) === 0) continue;
  const bg = background(el);
  const fg = over(rgba(style.color) || [0, 0, 0, 1], bg);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
  const large = size >= 24 || (bold && size >= 18.66);
  if (ratio < (large ? 3 : 4.5)) bad.push(`${text.slice(0, 40)} (${ratio.toFixed(2)}:1, ${el.tagName}.${el.className})`);
}
return bad;
"""

# Elements whose content is cut: wider than their box while hiding the overflow, or text cut with "...".
_CLIPPED_JS = """
const out = [];
const page = document.documentElement;
if (page.scrollWidth > window.innerWidth + 1) out.push(`page scrolls sideways: ${page.scrollWidth}px`);
for (const el of document.querySelectorAll("#examples *, #sectors *, #chips *, #model-info *, label, .label")) {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  if (box.width === 0) continue;
  if (box.right > window.innerWidth + 1) out.push(`${el.tagName}.${el.className} ends at ${box.right}px`);
  const hides = ["hidden", "clip"].includes(style.overflowX) || style.textOverflow === "ellipsis";
  if (hides && el.scrollWidth > el.clientWidth + 1) out.push(`${el.tagName}.${el.className} cut: ${el.textContent.slice(0, 40)}`);
  if (el.children.length === 0 && /\\.\\.\\.$/.test(el.textContent.trim())) out.push(`shortened: ${el.textContent.trim()}`);
}
return out;
"""


def _wait_answer(driver, expected: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = _answer(driver)
        if text == expected:
            return text
        time.sleep(0.1)
    return text


def _outputs(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {key: driver.find_element(By.ID, key).text for key in ("chips", "sectors", "modalities", "note")}


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _shoot(driver, name: str) -> None:
    folder = os.environ.get("SPACE_SCREENSHOTS")  # a folder, for looking at the page as a person would
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _clear(driver) -> None:
    from selenium.webdriver.common.by import By

    button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Clear")
    button.click()
    deadline = time.monotonic() + 20
    while _answer(driver) and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_example_then_analyze_contrast_and_no_clipping(
    chromium, wheel_dir, tmp_path, monkeypatch, width
):
    """Clicking an example used to leave the outputs on "processing" for ever (a gr.BarPlot among the outputs
    of lazily cached examples); then Analyze did nothing until reload."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("MER_UNIBENCH_WHEEL_DIR", str(wheel_dir))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path / "examples"))
    app = load_app()
    pipeline = FakePipeline()
    demo = app.build_app(pipeline)
    examples = app.support.example_clips()
    driver = _driver(chromium, tmp_path / "profile", width=None if width >= 500 else width)
    try:
        with serve(demo, app) as url:
            driver.get(url)
            wait = WebDriverWait(driver, 60)
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#examples .gallery-item")))
            assert "Model: affectgpt-tiny-synth" in driver.find_element(By.ID, "model-info").text
            _shoot(driver, f"start-{width}")
            items = driver.find_elements(By.CSS_SELECTOR, "#examples .gallery-item")
            assert len(items) == len(examples) == 4
            for i, clip in enumerate(examples):
                _clear(driver)
                driver.find_elements(By.CSS_SELECTOR, "#examples .gallery-item")[i].click()
                assert _wait_answer(driver, ANSWER["description"]) == ANSWER["description"], (
                    f"example {i + 1} froze"
                )
                try:  # the freeze left every output on "processing | 1.2s" with the answer already complete
                    WebDriverWait(driver, 20).until(
                        lambda d: not any("processing" in t for t in _outputs(d).values())
                    )
                except TimeoutException:
                    pytest.fail(f"example {i + 1} froze: {_outputs(driver)}")
                shown = _outputs(driver)
                assert (
                    "happy" in shown["chips"]
                    and "wheel 1" in shown["sectors"]
                    and "surprised" in shown["sectors"]
                )
                assert "audio, frames, subtitle" in shown["modalities"]
                assert clip.truth.split()[0] in items[i].text  # the truth label is on the example
                boxes = driver.find_elements(By.CSS_SELECTOR, "textarea")
                assert any(
                    b.get_attribute("value") == clip.subtitle for b in boxes
                )  # the example filled it in
                _shoot(driver, f"example{i + 1}-{width}")

                calls = len(pipeline.calls)
                analyze_button = driver.find_element(By.ID, "analyze")
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", analyze_button)
                analyze_button.click()  # Analyze on the example's inputs runs the pipeline again
                deadline = time.monotonic() + 60
                while len(pipeline.calls) == calls and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert len(pipeline.calls) > calls, f"Analyze after example {i + 1} did nothing"
                assert Path(pipeline.calls[-1]["video"]).name == clip.video.name
                assert _wait_answer(driver, ANSWER["description"]) == ANSWER["description"]
            assert not _console_errors(driver), _console_errors(driver)
            low = driver.execute_script(_CONTRAST_JS)
            assert not low, f"text below WCAG AA contrast: {low}"
            clipped = driver.execute_script(_CLIPPED_JS)
            assert not clipped, f"clipped at {width} px: {clipped}"
            _shoot(driver, f"end-{width}")
    finally:
        driver.quit()
