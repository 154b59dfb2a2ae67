"""The leaders' view (领导视图) in headless Chromium, driven by Selenium: a leader logs in,
opens 回应情况, sees the compliance figures for 30 and 90 days per department and county with
the breaches and the open grade I/II incidents, and finds no control that writes, there or on
an incident. The API serves the fixture log (tests/reports/fixture.py) on a real uvicorn, its clock
pinned 60 days after the fixture's start. A screenshot goes to test-artifacts/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.store import Store
from monitor.web.status import create_app
from tests.conftest import ROOT, page_wait, screenshot
from tests.reports.fixture import T0, build, write
from tests.web.conftest import TOKENS, add_users, serving

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
NOW = T0 + timedelta(days=60)
WRITES = "#leaders-view form, #leaders-view input, #leaders-view select, #leaders-view textarea, "
WRITES += "#leaders-view button"


@pytest.fixture(scope="module")
def ids(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('leaders') / 'monitor.db'}")
    built = build(until=60 * 24)
    write(store, built)
    add_users(store)
    with serving(create_app(store, CollectorRegistry(), clock=lambda: NOW)) as base:
        yield base, built.ids
    store.close()


def text(d: WebDriver, css: str) -> str:
    return str(d.find_element(By.CSS_SELECTOR, css).text)


def test_a_leader_sees_the_figures_and_nothing_that_writes(
    ids: tuple[str, dict[str, str]], driver: WebDriver, tmp_path: Path
) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    base, incident = ids
    driver.get(f"{base}/?token={TOKENS['leader']}")
    page_wait(driver, lambda d: d.find_element(By.ID, "nav-leaders").is_displayed(), "login")
    driver.find_element(By.ID, "nav-leaders").click()
    page_wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#l-departments tbody tr"),
             "the leaders' view")  # fmt: skip
    assert driver.execute_script("return location.hash") == "#leaders"
    assert "只读" in text(driver, "#who")
    # 30 days: A B C D E J counted (F merged, G out of area); 90 days adds September's H
    assert text(driver, '.leaders-total[data-days="30"] .n') == "6"
    assert text(driver, '.leaders-total[data-days="90"] .n') == "7"
    assert "并入他案 1 起、辖区外 1 起" in text(driver, '.leaders-total[data-days="30"]')
    # 市应急管理局 answered B's release 6 h after the first post: 0 of 1 within 5 h
    row = '#l-departments tr[data-name="市应急管理局"]'
    cells = driver.find_elements(By.CSS_SELECTOR, f'{row} td[data-rule="release"]')
    assert [c.find_element(By.TAG_NAME, "b").text for c in cells] == ["0.0%", "0.0%"]
    fire = driver.find_elements(By.CSS_SELECTOR,
                                '#l-departments tr[data-name="市消防救援支队"] td[data-rule="release"] b')  # fmt: skip
    assert [c.text for c in fire] == ["100.0%", "100.0%"]  # A (30 d), A and H (90 d)
    counties = {e.get_attribute("data-name")
                for e in driver.find_elements(By.CSS_SELECTOR, "#l-counties tbody tr")}  # fmt: skip
    assert counties == {"安岳县", "雁江区", "乐至县"}
    breached = {e.get_attribute("data-incident")
                for e in driver.find_elements(By.CSS_SELECTOR, "#l-breaches li")}  # fmt: skip
    assert {incident["B"], incident["C"], incident["E"], incident["J"]} <= breached
    assert incident["A"] not in breached
    opened = [e.get_attribute("data-incident")
              for e in driver.find_elements(By.CSS_SELECTOR, "#l-open li")]  # fmt: skip
    assert opened == [incident["J"]]
    assert "已超时" in text(driver, "#l-open li")
    assert driver.find_elements(By.CSS_SELECTOR, WRITES) == []
    screenshot(driver, ARTIFACTS / "leaders.png")

    # the same report as a file: fetched with the token, saved by the browser
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})  # fmt: skip
    driver.find_element(By.LINK_TEXT, "近30天报告（HTML）").click()
    saved = downloads / "舆情回应情况报告-近30天.html"
    page_wait(driver, lambda d: saved.is_file() and "</html>" in saved.read_text("utf-8"),
             "the downloaded report")  # fmt: skip
    assert 'id="total-incidents">6<' in saved.read_text("utf-8")

    # from the view to an open grade II incident: no action form, split box or confirm button
    driver.find_element(By.CSS_SELECTOR, "#l-open li a").click()
    page_wait(driver, lambda d: incident["J"] in d.find_element(By.ID, "d-meta").text, "incident")
    for css in ("#act-card", "#act-form", "#split-box"):
        assert not driver.find_element(By.CSS_SELECTOR, css).is_displayed(), css
    assert not [b for b in driver.find_elements(By.CSS_SELECTOR, "#detail-view button")
                if b.is_displayed() and b.text not in ("上一页", "下一页")]  # fmt: skip
