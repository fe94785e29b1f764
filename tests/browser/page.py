"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven through Selenium,
and the draw-a-digit page as the tests see it: strokes drawn as W3C pointer actions (mouse
or touch), the answer read from the page's ``aria-live`` region."""

from __future__ import annotations

import base64
import json
import math
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Chromium here has no network beyond loopback: these keep it from trying (STACK-NOTES).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--password-store=basic",
)
HERE = Path(__file__).parent
CONTRAST_JS = (HERE / "contrast.js").read_text()  # [{text, ratio}] for every visible text
SLOW_FETCH_JS = (HERE / "slow_fetch.js").read_text()  # window.__probe: in flight, shown
WAIT = 20.0  # seconds: page load, an answer, an error message
MOBILE = {"width": 360, "height": 640, "pixelRatio": 2.0, "touch": True, "mobile": True}
MOBILE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Mobile Safari/537.36"
)

Stroke = list[tuple[float, float]]  # points in canvas fractions: (0, 0) top left, (1, 1)


def line(start: tuple[float, float], end: tuple[float, float], steps: int = 12) -> Stroke:
    (x0, y0), (x1, y1) = start, end
    return [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(steps + 1)]


def ellipse(cx: float, cy: float, rx: float, ry: float, steps: int = 32) -> Stroke:
    """Counter-clockwise from the top, closed, the way a 0 is usually written."""
    angles = [-math.pi / 2 - 2 * math.pi * i / steps for i in range(steps + 1)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


# Digits as a person draws them: big, centred strokes (the service fits the ink to 20x20).
DIGITS: dict[int, list[Stroke]] = {
    1: [line((0.5, 0.18), (0.5, 0.82))],
    7: [line((0.28, 0.2), (0.72, 0.2), 8) + line((0.72, 0.2), (0.42, 0.82))[1:]],
    0: [ellipse(0.5, 0.5, 0.22, 0.32)],
}


def require_browser() -> None:
    """Fail (not skip) without the browser: ``make system-deps`` installs it."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: apt-get install chromium chromium-driver")


def chrome(profile: Path, log_path: Path, mobile: bool = False):
    """A new headless Chromium with a fresh profile; browser and network logs kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if mobile:
        options.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": MOBILE, "userAgent": MOBILE_AGENT}
        )
    else:
        options.add_argument("--window-size=1024,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(log_path))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


class DigitPage:
    """The page in one browser tab."""

    def __init__(self, driver, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.saved: list[Path] = []

    # ---- actions ----------------------------------------------------------------
    def open(self, url: str) -> DigitPage:
        self.driver.get(url)
        self.until(lambda d: d.find_element("id", "result").get_attribute("data-state") == "idle")
        return self

    def draw(self, strokes: list[Stroke], pointer: str = "mouse") -> None:
        """Each stroke as pointer down, moves, up: real pointer events on the canvas."""
        from selenium.webdriver.common.actions import interaction
        from selenium.webdriver.common.actions.action_builder import ActionBuilder
        from selenium.webdriver.common.actions.pointer_input import PointerInput

        kind = interaction.POINTER_TOUCH if pointer == "touch" else interaction.POINTER_MOUSE
        canvas = self.element("pad")
        width, height = canvas.size["width"], canvas.size["height"]
        builder = ActionBuilder(self.driver, mouse=PointerInput(kind, pointer), duration=15)
        actions = builder.pointer_action

        def offset(point: tuple[float, float]) -> tuple[int, int]:  # from the canvas centre
            return round((point[0] - 0.5) * width), round((point[1] - 0.5) * height)

        for stroke in strokes:
            actions.move_to(canvas, *offset(stroke[0]))
            actions.pointer_down()
            for point in stroke[1:]:
                actions.move_to(canvas, *offset(point))
            actions.pointer_up()
        builder.perform()

    def click(self, element_id: str) -> None:
        self.element(element_id).click()

    def predict(self) -> int:
        """Press Predict; the digit the live region then shows."""
        self.click("predict")
        return self.answer()

    def clear(self) -> None:
        self.click("clear")
        assert self.state() == "idle"
        assert self.text("digit") == "?"

    def upload(self, path: Path) -> int:
        self.element("photo").send_keys(str(path))
        return self.answer()

    def feedback(self, meant: int | None) -> str:
        """Answer "Right?": Yes (None) or the digit meant; the status shown afterwards."""
        if meant is None:
            self.click("yes")
        else:
            self.driver.find_element("css selector", f'.meant-digit[data-digit="{meant}"]').click()
        return self.until(lambda _: (t := self.text("feedback-status")) != "Sending…" and t)

    # ---- reading ----------------------------------------------------------------
    def element(self, element_id: str):
        return self.driver.find_element("id", element_id)

    def text(self, element_id: str) -> str:
        return self.element(element_id).text.strip()

    def state(self) -> str:
        return self.element("result").get_attribute("data-state")

    def until(self, condition, timeout: float = WAIT):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition)

    def settled(self) -> str:
        """The state once no request is waiting or in flight: answered, error or idle."""
        return self.until(lambda _: self.state() if self.state() != "waiting" else None)

    def answer(self) -> int:
        state = self.settled()
        assert state == "answered", f"state {state}: {self.text('error')!r}"
        live = self.element("result")
        assert live.get_attribute("aria-live") == "polite"
        digit = live.find_element("id", "digit").text.strip()
        assert digit.isdigit(), digit
        return int(digit)

    def error(self) -> str:
        """The error message once one is shown."""
        self.until(lambda _: self.element("error").is_displayed())
        return self.text("error")

    def screenshot(self, name: str) -> Path:
        """The whole page (beyond the viewport too) as a PNG in the test's directory."""
        path = self.shots / f"{len(self.saved):02d}-{name}.png"
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.saved.append(path)
        print(f"screenshot: {path}")
        return path

    def keep(self, shot: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
        print(f"screenshot copied to {target}")

    def console_errors(self) -> list[dict]:
        """Browser log entries at level SEVERE since the last call."""
        return [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def requested_urls(self) -> list[str]:
        """Every URL the page asked the network for since the last call (DevTools events)."""
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return urls
