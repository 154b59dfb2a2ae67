"""Shared real parts: the reference data, one bundled Tansu broker per session, headless
Chromium for the pages, and the rule that a missing program skips a test, except under CI=true,
where a skip would hide a broken environment, so it fails instead."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from monitor.runtime.broker import BrokerError, BundledBroker
from monitor.testing import pg_schema

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "MONITOR_TEST_PG",
    os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
WINDOW = (1440, 1600)  # the browser tests' window: a duty desk's screen
PAGE_WAIT = 90  # seconds a page may take to show something on a loaded 2-core machine


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A throw-away schema on the machine's PostgreSQL (monitor.testing.pg_schema); skips, or
    under CI=true fails, when the server is not there."""
    try:
        ctx = pg_schema(PG_URL, prefix)
        url = ctx.__enter__()
    except Exception as exc:
        skip_or_fail(f"PostgreSQL unreachable at {PG_URL}: {exc}")
        raise
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real public data, read in place, never copied into the project."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def broker() -> Iterator[BundledBroker]:
    try:
        b = BundledBroker().start()
    except BrokerError as exc:
        skip_or_fail(f"bundled Tansu broker unavailable: {exc}")
        raise
    yield b
    b.stop()


@contextlib.contextmanager
def chromium(window: tuple[int, int] = WINDOW) -> Iterator[WebDriver]:
    """Headless Chromium in Chinese, driven by Selenium (Debian chromium, chromium-driver)."""
    binary, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and chromedriver):
        skip_or_fail("chromium and chromedriver are not installed (Debian chromium, "
                     "chromium-driver: scripts/install-system-deps.sh)")  # fmt: skip
    assert binary and chromedriver
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    # autoplay: the dashboard sounds an alarm for a new incident with no click first
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 f"--window-size={window[0]},{window[1]}", "--disable-dev-shm-usage",
                 "--lang=zh-CN", "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        opts.add_argument(flag)
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(chromedriver))
    try:
        yield d
    finally:
        d.quit()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    """One browser for a test module (starting Chromium takes seconds)."""
    with chromium() as d:
        yield d


def page_wait(
    driver: WebDriver, check: Callable[[WebDriver], Any], what: str, timeout: float = PAGE_WAIT
) -> Any:
    """`check`'s first truthy answer; an element the page redrew under it is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,))  # fmt: skip
    return wait.until(check, f"waiting for {what}")


def screenshot(driver: WebDriver, path: Path) -> Path:
    """The whole page (the window stretched to its height, within reason) saved as `path`; the
    window gets its size back after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(size["width"], min(max(int(height) + 40, 900), 5000))
    assert driver.save_screenshot(str(path))
    driver.set_window_size(size["width"], size["height"])
    return path
