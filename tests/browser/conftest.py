"""The browser tests drive the real function (the serving tests' ``start_server``, serving
the small trained test model) from headless Chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.page import DigitPage, chrome
from tests.function.conftest import manifest, start_server  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def page_server(start_server):  # noqa: F811 (the imported fixture)
    """One server for a module's page tests (each test opens its own browser)."""
    return start_server()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Callable[..., DigitPage]]:
    """``browser(mobile=False)``: a fresh headless Chromium (own profile) showing nothing
    yet; screenshots go to the test's tmp dir. Every browser is closed at the end."""
    drivers = []

    def launch(mobile: bool = False) -> DigitPage:
        index = len(drivers)
        profile = tmp_path / f"profile-{index}"
        driver = chrome(profile, tmp_path / f"chromedriver-{index}.log", mobile=mobile)
        drivers.append(driver)
        return DigitPage(driver, tmp_path / "screenshots")

    yield launch
    for driver in drivers:
        driver.quit()
