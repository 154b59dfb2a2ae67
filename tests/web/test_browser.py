"""The duty dashboard in headless Chromium, driven by Selenium (Debian chromium-driver), against
a real `monitor run`: posts go in through `monitor post`, the pipeline opens incidents, the web
process pushes them to the page.

Screenshots of each view, as each role sees it, are saved under test-artifacts/dashboard/ (at
the repository root, git-ignored)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.runtime.broker import free_port
from monitor.store import Store
from monitor.store.users import Accounts
from monitor.testing import web_child
from tests.conftest import PAGE_WAIT, ROOT, page_wait, screenshot
from tests.web.conftest import TOKENS, USERS

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"

selenium = pytest.importorskip("selenium")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


class Monitor:
    def __init__(self, data: Path, base: str, proc: subprocess.Popen[bytes]) -> None:
        self.data = data
        self.base = base
        self.proc = proc
        self.store = Store(f"sqlite:///{data / 'monitor.db'}")

    def post(self, *posts: dict[str, Any]) -> None:
        path = self.data.parent / f"posts-{time.monotonic_ns()}.jsonl"
        path.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in posts) + "\n")
        out = subprocess.run([sys.executable, "-m", "monitor", "post", "--data-dir",
                              str(self.data), str(path)], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr

    def incident_of(self, post_id: str) -> str:
        def found() -> str | None:
            for row in self.store.incidents():
                if post_id in row.state.post_ids:
                    return row.id
            return None

        return until(found, f"an incident holding {post_id}")


def until(check: Callable[[], Any], what: str, timeout: float = PAGE_WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def post(pid: str, text: str, minutes_ago: float = 0, **extra: Any) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    return {"id": pid, "text": text, "source": "weibo", "published_at": at, "observed_at": at,
            **extra}  # fmt: skip


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitor]:
    tmp = tmp_path_factory.mktemp("browser")
    data = tmp / "data"
    data.mkdir()
    store = Store(f"sqlite:///{data / 'monitor.db'}")
    accounts = Accounts(store)
    for name, role, body, who in USERS:
        accounts.add(name, role, body, datetime.now(UTC), token=TOKENS[who])
    store.close()
    port = free_port()
    log = (tmp / "run.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--port", str(port),
         "--worker-port", str(free_port()), "--no-demo", "--tick", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, (tmp / "run.log").read_text("utf-8")
        try:
            r = httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {TOKENS['duty']}"})
        except httpx.TransportError:
            return False
        return r.status_code == 200

    until(up, "monitor run to serve the API", 120)
    m = Monitor(data, base, proc)
    yield m
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    m.store.close()


def login(driver: WebDriver, m: Monitor, who: str, fragment: str = "") -> None:
    driver.get(f"{m.base}/?token={TOKENS[who]}{fragment}")
    page_wait(driver, lambda d: "当前用户" in d.find_element(By.ID, "who").text, "login")
    page_wait(driver, lambda d: "已连接" in d.find_element(By.ID, "live").text, "live push")


def shot(driver: WebDriver, name: str) -> Path:
    return screenshot(driver, ARTIFACTS / f"{name}.png")


def retry(driver: WebDriver, act: Callable[[], Any], what: str) -> Any:
    """Live push redraws the page under the test: an element found a moment ago may be gone.
    Find it again and retry until the action goes through."""

    def attempt(_: WebDriver) -> Any:
        try:
            return act() or True
        except StaleElementReferenceException:
            return False

    return page_wait(driver, attempt, what)


def choose(driver: WebDriver, name: str, value: str) -> None:
    retry(driver, lambda: Select(driver.find_element(By.CSS_SELECTOR, f'#act-form [name="{name}"]'))
          .select_by_value(value), f"{name} = {value}")  # fmt: skip


def rows(driver: WebDriver) -> list[Any]:
    return driver.find_elements(By.CSS_SELECTOR, "#incidents tr[data-incident]")


def open_incident(driver: WebDriver, incident: str) -> None:
    driver.execute_script("location.hash = arguments[0]", f"#incident/{incident}")
    page_wait(driver, lambda d: incident in d.find_element(By.ID, "d-meta").text, "incident view")


BLAST = "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。"


def test_a_grade_ii_incident_is_pushed_to_the_top_with_an_urgent_countdown(
    monitor: Monitor, driver: WebDriver
) -> None:
    # an earlier, minor incident: its 48 h clock is far away
    monitor.post(post("b-fire", "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。"))
    login(driver, monitor, "duty")
    page_wait(driver, lambda d: len(rows(d)) == 1, "the first incident")
    # published 4 h 10 min ago: 50 minutes of its 5-hour release clock are left
    fed = time.monotonic()
    monitor.post(post("b-blast", BLAST, minutes_ago=250))
    sent = time.monotonic()
    page_wait(driver, lambda d: len(rows(d)) == 2, "the grade II incident, without a reload")
    seen = time.monotonic()
    def top_row(d: WebDriver) -> tuple[str, str, str, str]:
        top = rows(d)[0]
        countdown = top.find_element(By.CSS_SELECTOR, ".countdown")
        return (top.text, str(top.get_attribute("class")), countdown.text,
                str(countdown.get_attribute("class")))  # fmt: skip

    text, row_class, countdown, countdown_class = page_wait(driver, top_row, "the top row")
    assert "II级" in text and "宝台镇" in text
    assert row_class in ("urgency-amber", "urgency-red")
    assert re.search(r"权威信息发布：剩余 \d+分\d\d秒", countdown), countdown
    assert "amber" in countdown_class
    banner = driver.find_element(By.CSS_SELECTOR, "#banners .banner")
    assert "新发II级（重大）事件" in banner.text
    totals = driver.find_element(By.ID, "totals").text
    assert "1小时内到期" in totals
    print(f"`monitor post` started → on the page {seen - fed:.2f} s; "
          f"`monitor post` exited → on the page {seen - sent:.2f} s")  # fmt: skip
    assert driver.execute_script("return document.body.dataset.sounds") == "1"
    shot(driver, "list-duty")
    # filters: by grade, then cleared
    Select(driver.find_element(By.ID, "f-grade")).select_by_value("IV")
    page_wait(driver, lambda d: len(rows(d)) == 1 and "火灾" in rows(d)[0].text, "grade filter")
    driver.find_element(By.ID, "f-clear").click()
    page_wait(driver, lambda d: len(rows(d)) == 2, "filters cleared")


def test_out_of_area_incidents_are_kept_apart_and_alerts_can_be_muted(
    monitor: Monitor, driver: WebDriver
) -> None:
    login(driver, monitor, "duty")
    page_wait(driver, lambda d: len(rows(d)) == 2, "the list")
    driver.find_element(By.ID, "mute").click()
    assert driver.find_element(By.ID, "mute").text == "声音提醒：关"
    monitor.post(post("b-chengdu", "四川省成都市武侯区一化工厂发生爆炸，已造成15人死亡。"),
                 post("b-anyue", "安岳县石羊镇一烟花爆竹厂发生爆炸，已造成10人死亡。"))  # fmt: skip
    page_wait(driver, lambda d: len(rows(d)) == 3, "the new local incident")
    outside = page_wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#outside tr"),
                        "the out-of-area incident")  # fmt: skip
    assert len(outside) == 1 and not outside[0].is_displayed()  # collapsed
    assert "辖区外事件（1）" in driver.find_element(By.ID, "outside-summary").text
    assert all("成都" not in r.text for r in rows(driver))
    page_wait(driver, lambda d: any("安岳县" in b.text for b in d.find_elements(
        By.CSS_SELECTOR, "#banners .banner")), "the banner for the new grade II")  # fmt: skip
    page_wait(driver, lambda d: any("辖区外II级" in b.text for b in d.find_elements(
        By.CSS_SELECTOR, "#banners .banner.amber")), "a quieter banner for 成都")  # fmt: skip
    assert driver.execute_script("return document.body.dataset.sounds || '0'") == "0"  # muted
    driver.find_element(By.ID, "outside-summary").click()
    assert outside[0].is_displayed() or driver.find_element(By.CSS_SELECTOR, "#outside tr").is_displayed()
    shot(driver, "list-duty-out-of-area")
    driver.find_element(By.ID, "mute").click()  # back on for the next tests


def test_a_department_acknowledges_and_records_a_release(
    monitor: Monitor, driver: WebDriver
) -> None:
    incident = monitor.incident_of("b-blast")
    login(driver, monitor, "emergency", f"#incident/{incident}")  # 市应急管理局
    page_wait(driver, lambda d: incident in d.find_element(By.ID, "d-meta").text, "incident view")
    assert "死亡 12 人" in driver.find_element(By.ID, "d-facts").text
    form = driver.find_element(By.ID, "act-form")
    choose(driver, "kind", "acknowledge")
    form.find_element(By.ID, "act-submit").click()
    page_wait(driver, lambda d: "已登记：确认收到" in d.find_element(By.ID, "act-result").text,
              "acknowledged")  # fmt: skip
    page_wait(driver, lambda d: "尚未确认" not in d.find_element(By.ID, "d-facts").text,
              "the acknowledgement applied")  # fmt: skip

    choose(driver, "kind", "release")
    form.find_element(By.ID, "act-submit").click()  # no URL yet: refused on the page
    assert "请填写" in driver.find_element(By.ID, "act-result").text
    form.find_element(By.NAME, "url").send_keys("https://www.ziyang.gov.cn/xw/baotai.html")
    form.find_element(By.NAME, "channel").send_keys("资阳发布")
    form.find_element(By.ID, "act-submit").click()

    def released(d: WebDriver) -> str | None:
        for c in d.find_elements(By.CSS_SELECTOR, "#d-clocks .countdown"):
            if c.text.startswith("权威信息发布：已发布（用时"):
                return str(c.text)
        return None

    text = page_wait(driver, released, "the release clock to show 已发布")
    assert re.search(r"用时 4小时1\d分", text), text
    assert "登记处置：权威信息发布 · 应急局联络员" in driver.find_element(By.ID, "timeline").text
    shot(driver, "incident-department")


def test_duty_staff_split_two_posts_off_and_merge_them_back(
    monitor: Monitor, driver: WebDriver
) -> None:
    text = "安岳县岳阳镇国道一辆客车与货车相撞，造成{}人受伤，交警正在处置。"
    monitor.post(*(post(f"b-bus-{i}", text.format(3 + i), minutes_ago=30 - i) for i in range(3)))
    incident = monitor.incident_of("b-bus-0")
    until(lambda: monitor.incident_of("b-bus-2") == incident, "all three posts on one incident")
    login(driver, monitor, "duty", f"#incident/{incident}")
    page_wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#d-posts li")) == 3,
              "three posts")  # fmt: skip
    for pid in ("b-bus-1", "b-bus-2"):
        box = f'#d-posts li[data-post="{pid}"] input.pick'
        retry(driver, lambda box=box: driver.find_element(By.CSS_SELECTOR, box).click(), pid)
    assert "勾选的 2 条" in driver.find_element(By.ID, "split-btn").text
    driver.find_element(By.ID, "split-btn").click()
    page_wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#d-posts li")) == 1,
              "two posts split off")  # fmt: skip
    new = monitor.incident_of("b-bus-1")
    assert new != incident

    open_incident(driver, new)
    form = driver.find_element(By.ID, "act-form")
    choose(driver, "kind", "merge")
    choose(driver, "target", incident)
    form.find_element(By.NAME, "reason").send_keys("同一起事故")
    form.find_element(By.ID, "act-submit").click()
    page_wait(driver, lambda d: "已合并" in d.find_element(By.ID, "d-meta").text, "merged")
    open_incident(driver, incident)
    page_wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#d-posts li")) == 3,
              "the posts back on the original")  # fmt: skip
    assert "拆出 2 条帖子" in driver.find_element(By.ID, "timeline").text


def test_markup_in_a_post_is_shown_as_text(monitor: Monitor, driver: WebDriver) -> None:
    hostile = ('乐至县石佛镇一工地发生坍塌，2人被困。<script>window.__pwned = 1</script>'
               '<img src=x onerror="window.__pwned = 2">')  # fmt: skip
    monitor.post(post("b-xss", hostile, author="<b>围观者</b>"))
    incident = monitor.incident_of("b-xss")
    login(driver, monitor, "duty", f"#incident/{incident}")
    item = page_wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '#d-posts li[data-post="b-xss"]'),
                     "the post")[0]  # fmt: skip
    shown = item.find_element(By.CSS_SELECTOR, ".post-text").text
    assert "<script>window.__pwned = 1</script>" in shown and 'onerror="window.__pwned = 2"' in shown
    assert "<b>围观者</b>" in item.text
    assert item.find_elements(By.TAG_NAME, "img") == [] and item.find_elements(By.TAG_NAME, "b") == []
    assert driver.execute_script("return window.__pwned") is None
    driver.execute_script("location.hash = ''")
    page_wait(driver, lambda d: any(incident == r.get_attribute("data-incident") for r in rows(d)),
              "the list")  # fmt: skip
    assert driver.execute_script("return window.__pwned") is None
    open_incident(driver, incident)
    shot(driver, "incident-duty")


def test_a_leader_reads_without_forms(monitor: Monitor, driver: WebDriver) -> None:
    incident = monitor.incident_of("b-blast")
    login(driver, monitor, "leader")
    page_wait(driver, lambda d: len(rows(d)) >= 2, "the list")
    assert "只读" in driver.find_element(By.ID, "who").text
    shot(driver, "list-leader")
    open_incident(driver, incident)
    assert not driver.find_element(By.ID, "act-form").is_displayed()
    assert not driver.find_elements(By.CSS_SELECTOR, "#d-posts input.pick")
    shot(driver, "incident-leader")


def test_a_department_sees_only_its_incidents(monitor: Monitor, driver: WebDriver) -> None:
    login(driver, monitor, "emergency")
    page_wait(driver, lambda d: len(rows(d)) >= 1, "the list")
    titles = " ".join(r.text for r in rows(driver))
    assert "宝台镇" in titles and "客车" not in titles  # the bus crash is the police's
    shot(driver, "list-department")


def test_without_a_token_the_page_asks_for_one(monitor: Monitor, driver: WebDriver) -> None:
    # Clear the stored token from a page of the same origin that runs no dashboard script: on
    # the dashboard itself a login still in flight would store the token again after the clear.
    driver.get(f"{monitor.base}/api/me")
    driver.execute_script("localStorage.clear()")
    driver.get(f"{monitor.base}/")
    page_wait(driver, lambda d: d.find_element(By.ID, "login").is_displayed(), "the login form")
    assert not driver.find_element(By.ID, "list-view").is_displayed()
    assert rows(driver) == []
    driver.find_element(By.ID, "token").send_keys("not-a-token-0123456789")
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    page_wait(driver, lambda d: "令牌无效" in d.find_element(By.ID, "error").text, "a refusal")


def test_the_page_reconnects_by_itself_and_resumes(monitor: Monitor, driver: WebDriver) -> None:
    login(driver, monitor, "duty")
    before = page_wait(driver, lambda d: len(rows(d)), "the list")
    web = web_child(monitor.proc.pid)
    assert web is not None, "no `monitor web` child"
    os.kill(web, signal.SIGKILL)  # `monitor run` starts another
    page_wait(driver, lambda d: "正在重连" in d.find_element(By.ID, "live").text, "the page to notice")
    # posted while the page is cut off: it must arrive when the page reconnects by itself
    monitor.post(post("b-reconnect", "乐至县回澜镇发生一起交通事故，一辆客车坠崖，已造成11人死亡。"))
    page_wait(driver, lambda d: "已连接" in d.find_element(By.ID, "live").text, "a reconnect")
    page_wait(driver, lambda d: len(rows(d)) == before + 1, "the incident posted meanwhile")
    page_wait(driver, lambda d: any("回澜镇" in b.text for b in d.find_elements(
        By.CSS_SELECTOR, "#banners .banner")), "its banner (replayed from the last event id, or live)")  # fmt: skip


def test_the_page_offers_each_role_its_own_actions_and_shows_each_notice(
    monitor: Monitor, driver: WebDriver
) -> None:
    incident = monitor.incident_of("b-blast")
    login(driver, monitor, "emergency", f"#incident/{incident}")  # 市应急管理局, a body of it

    def kinds(d: WebDriver) -> set[str]:
        return {o.get_attribute("value") or "" for o in
                d.find_elements(By.CSS_SELECTOR, '#act-form [name="kind"] option')}  # fmt: skip

    # the answers are the department's; closing, regrading and merging are duty staff's
    page_wait(driver, lambda d: kinds(d) == {"acknowledge", "release", "press_conference",
                                            "follow_up"}, "a department's actions")  # fmt: skip
    sent = page_wait(driver, lambda d: next((li.text for li in d.find_elements(
        By.CSS_SELECTOR, "#d-notifications li.n-sent") if "新舆情事件通知" in li.text), None),
        "the opening notice, listed as sent")  # fmt: skip
    assert "已发送" in sent and "发出" in sent and "→" in sent, sent

    monitor.post(post("b-close", "雁江区临江镇一民房发生火灾，1人受伤。"))
    closing = monitor.incident_of("b-close")
    login(driver, monitor, "duty", f"#incident/{closing}")
    page_wait(driver, lambda d: {"close", "regrade", "merge"} <= kinds(d), "duty staff's actions")
    choose(driver, "kind", "close")
    form = driver.find_element(By.ID, "act-form")
    form.find_element(By.NAME, "reason").send_keys("误报")
    form.find_element(By.ID, "act-submit").click()
    # a clock stopped by closing, with no answer, is not met and has no countdown
    page_wait(driver, lambda d: "关闭时未完成" in d.find_element(By.ID, "d-clocks").text,
              "the unanswered clock shown as not done")  # fmt: skip
    assert "剩余" not in driver.find_element(By.ID, "d-clocks").text
    shot(driver, "incident-closed-not-done")
