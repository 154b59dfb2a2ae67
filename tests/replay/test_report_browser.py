"""The replay report opened in headless Chromium (Debian chromium-driver, as tests/web): it is
Chinese, its charts are inline SVG, and it loads nothing from anywhere. A screenshot is saved
under test-artifacts/replay/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, screenshot
from tests.replay.conftest import replay_under, write_jsonl
from tests.replay.test_month import month

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "test-artifacts" / "replay"

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


def test_the_replay_report_opens_offline_with_its_charts(tmp_path: Path, driver: WebDriver) -> None:
    history = write_jsonl(tmp_path / "march-2025.jsonl", month())
    rules = "clocks:\n  release: {after: 2h, warnings: [1h, 30m]}\n"
    replay_under(rules, history, tmp_path / "out")
    driver.get((tmp_path / "out" / "report.html").as_uri())
    assert driver.title == "舆情回放报告"
    h1 = driver.find_element(By.TAG_NAME, "h1").text
    assert h1 == "舆情回放报告"
    # no network at view time: nothing to fetch, and nothing was fetched
    assert (
        driver.execute_script(
            "return document.querySelectorAll('script,link,img,iframe,object,embed').length"
        )
        == 0
    )
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    svgs = driver.find_elements(By.TAG_NAME, "svg")
    assert len(svgs) >= 3  # heat, and one clock chart per incident
    heat = svgs[0]
    assert heat.get_attribute("aria-label") == "每日事件帖子数（热度）"
    assert heat.size["width"] > 500 and heat.size["height"] > 100
    assert len(heat.find_elements(By.TAG_NAME, "rect")) >= 10  # a bar per day with posts
    body = driver.find_element(By.TAG_NAME, "body").text
    assert "规则对比" in body and "新增超时：权威信息发布" in body
    assert "超时未回应" in body and "逾时完成" in body  # the mine, and the blast under 2 h
    path = screenshot(driver, ARTIFACTS / "report.png")
    assert path.stat().st_size > 20_000
