"""Correct messages (issue 10 item 4): the text officials read, from the incident domain through
the notifications bridge and the notifier to a channel, on simulated time.

Tests read the message text, not only fields. Each names what main sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.domain import clocks
from monitor.domain.escalation import Step
from monitor.domain.incidents import assign, open_incident
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import ClockPolicy, IncidentParams
from monitor.domain.state import IncidentState, Outcome
from monitor.notify.bootstrap import create_notifier
from monitor.notify.delivery import Notifier
from monitor.notify.message import from_intent, incident_link, render
from monitor.notify.report import delivery_views
from monitor.runtime.notify_bridge import NotifyBridge
from streams.records import encoder
from tests.notify.conftest import FakeClock

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
NIGHT = datetime(2026, 11, 25, 23, 0, tzinfo=CST)
ANYUE = Location(in_jurisdiction=True, city="资阳市", city_code="5120", county="安岳县",
                 county_code="512021")  # fmt: skip
SHANGHAI = Location(in_jurisdiction=False, city="上海市", city_code="3100")
FIRE = "安岳县岳阳镇一家具厂突发火灾，现场浓烟滚滚，消防正在全力扑救，已造成多人被困"
SCHOOL = "安岳县石羊镇中心小学学生午餐后出现呕吐腹泻，疑似食物中毒，20余名学生送医。"
PUBLIC = "https://yuqing.ziyang.example"


def opened(
    start: datetime = DAY,
    grade: Grade = Grade.II,
    text: str = FIRE,
    category: str = "fire",
    where: Location = ANYUE,
    params: IncidentParams | None = None,
) -> Outcome:
    p = Post(id="p1", text=text, published_at=start, observed_at=start)
    bodies = Responsible(level="city", lead="市消防救援支队", co=("安岳县人民政府",))
    c = Classification(
        post_id="p1", is_incident=True, category=category, confidence=0.9, keywords=(),
        casualties=Casualties(), location=where, grade=grade, grade_basis="test",
        responsible=bodies if where.in_jurisdiction else Responsible(),
    )  # fmt: skip
    params = params or IncidentParams()
    return open_incident(p, c, params, assign([], p, c, params, "5120"))


@pytest.fixture
def notifier(tmp_path: Path) -> tuple[Notifier, FakeClock]:
    clock = FakeClock(DAY.astimezone(UTC))
    n = create_notifier(f"sqlite:///{tmp_path / 'outbox.db'}", CollectorRegistry(),
                        dry_run=True, clock=clock)  # fmt: skip
    return n, clock


def bridge(n: Notifier, public_url: str | None = PUBLIC) -> NotifyBridge:
    """The bridge the worker runs; `handle` is what it does with each topic record."""
    return NotifyBridge("kafka://unused:1", "notifications", n, link_base=public_url)


async def publish(n: Notifier, out: Outcome, public_url: str | None = PUBLIC) -> None:
    b = bridge(n, public_url)
    for intent in out.notifications:
        assert await b.handle(encoder.encode(intent), "notifications@0:0")


def sent(n: Notifier) -> list[dict[str, object]]:
    return [r for ch in n.channels.values() for r in ch.sent]  # type: ignore[attr-defined]


def texts_to(n: Notifier, name: str) -> list[str]:
    """What `name` received, one per message (a person reached on two channels reads the same
    text twice)."""
    got = [str(r["text"]) for r in sent(n) if name in r["to"]]  # type: ignore[operator]
    return list(dict.fromkeys(got))


async def test_a_live_opened_grade_two_incident_states_every_deadline(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """main: live-opened I/II incidents said "请尽快处置并回应" and no deadline (the bridge read
    the clocks from a read model that did not have the incident yet)."""
    n, _ = notifier
    await publish(n, opened())  # no store anywhere: the intent carries its clocks
    await n.run_once()
    [text] = texts_to(n, "市政府总值班室")[:1]
    for line in ("权威信息发布：剩余 5小时0分（11月25日 15:00截止）",
                 "新闻发布会：剩余 24小时0分（11月26日 10:00截止）",
                 "持续发布权威信息：剩余 24小时0分（11月26日 10:00截止）",
                 "现在需要：请立即核实情况，请于11月25日 15:00前发布权威信息"):  # fmt: skip
        assert line in text, (line, text)
    assert "请尽快" not in text


async def test_every_step_of_a_grade_one_incident_lists_the_clocks(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    n, clock = notifier
    out = opened(grade=Grade.I)
    later = clocks.evaluate(out.state, DAY + timedelta(minutes=31))  # unacknowledged
    await publish(n, later)
    clock.now = (DAY + timedelta(minutes=31)).astimezone(UTC)
    await n.run_once()
    [text] = {t for t in texts_to(n, "市政府总值班室")}
    assert "【未确认升级】" in text and "权威信息发布：剩余 4小时29分" in text
    assert "新闻发布会：剩余 23小时29分" in text


async def test_a_release_breach_names_the_release_clock_and_its_deadline(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """main: the breach message to 市政府主要领导 for the missed 5 h release named the
    press-conference clock, with a deadline a day ahead."""
    n, clock = notifier
    state = clocks.evaluate(opened().state, DAY + timedelta(hours=4, minutes=59)).state
    breach = clocks.evaluate(state, DAY + timedelta(hours=5))
    assert [i.step for i in breach.notifications] == [Step.BREACH]
    await publish(n, breach)
    clock.now = (DAY + timedelta(hours=5)).astimezone(UTC)
    await n.run_once()
    [text] = texts_to(n, "市政府主要领导")
    assert "超时：权威信息发布已于11月25日 15:00届满未完成" in text
    assert "现在需要：权威信息发布时限已于11月25日 15:00届满，请立即督办发布权威信息" in text
    assert "新闻发布会时限" not in text
    assert "权威信息发布：已超时 0分（11月25日 15:00截止）" in text


async def test_after_downtime_one_message_per_clock_with_its_true_state(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """main: after a restart T-2h, T-1h and T-30min went out in the same second, each saying
    "剩余 19分"."""
    n, clock = notifier
    state = clocks.evaluate(opened().state, DAY + timedelta(hours=1)).state  # then down
    back = DAY + timedelta(hours=4, minutes=41)
    out = clocks.evaluate(state, back)  # the first tick after the restart
    warnings = [e for e in out.events if e.kind.value == "deadline_warning"]
    assert len(warnings) == 3  # all three are facts in the event log
    await publish(n, out)
    clock.now = back.astimezone(UTC)
    await n.run_once()
    duty = texts_to(n, "市政府总值班室")
    assert len(duty) == 1 and len([r for r in sent(n) if r["channel"] == "duty-wecom"]) == 1
    assert "剩余 19分" in duty[0] and "补发：本提醒应于11月25日 14:30发出" in duty[0]


async def test_the_notifier_drops_warnings_that_went_stale(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """Belt and braces for intents already queued (main's domain sent all three): a warning
    with a later one of the same clock queued, or whose deadline passed, is not sent."""
    n, clock = notifier
    state = clocks.evaluate(opened().state, DAY + timedelta(hours=1)).state
    one_by_one = []
    for h in (3, 4, 4.5, 5):
        step = clocks.evaluate(state, DAY + timedelta(hours=h))
        state = step.state
        one_by_one.extend(step.notifications)
    assert [i.warning_before_min for i in one_by_one] == [120, 60, 30, None]
    b = bridge(n)
    for intent in one_by_one:
        await b.handle(encoder.encode(intent), "notifications@0:0")
    clock.now = (DAY + timedelta(hours=5, minutes=1)).astimezone(UTC)  # all queued at once
    await n.run_once()
    titles = {str(r["title"])[:6] for r in sent(n)}
    assert titles == {"【超时督办】"}
    rows = n.outbox.for_incident(state.id)
    views = delivery_views(rows, clock())
    assert {v["state"] for v in views if v["step"] == "warning"} == {"superseded"}
    assert metric_superseded(n) > 0


def metric_superseded(n: Notifier) -> float:
    return sum(
        s.value for m in n.metrics.superseded.collect() for s in m.samples
        if s.name.endswith("_total")
    )  # fmt: skip


async def test_quiet_hours_hold_nothing_for_duty_staff_and_show_what_is_held(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """main: a 20-pupil food poisoning (grade III) at night reached no one, and the page did
    not say a message was held."""
    n, clock = notifier
    clock.now = NIGHT.astimezone(UTC)
    out = opened(NIGHT, Grade.III, SCHOOL, "food_drug")
    await publish(n, out)
    await n.run_once()
    duty = texts_to(n, "市政府总值班室")
    assert len(duty) == 1 and "【新舆情事件】" in duty[0]
    assert not texts_to(n, "市消防救援支队联络人")  # the department waits for the morning
    views = delivery_views(n.outbox.for_incident(out.state.id), clock())
    held = [v for v in views if v["state"] == "held"]
    assert held and all(v["until"] == "2026-11-25T23:30:00+00:00" for v in held)
    assert all(v["state_label"] == "静默时段暂缓" for v in held)
    assert {v["state"] for v in views} == {"sent", "held"}
    clock.now = datetime(2026, 11, 26, 7, 30, tzinfo=CST).astimezone(UTC)
    await n.run_once()
    assert texts_to(n, "市消防救援支队联络人")


async def test_a_grade_two_incident_is_never_held(notifier: tuple[Notifier, FakeClock]) -> None:
    n, clock = notifier
    clock.now = NIGHT.astimezone(UTC)
    await publish(n, opened(NIGHT, Grade.II))
    await n.run_once()
    assert texts_to(n, "市消防救援支队联络人") and texts_to(n, "分管副市长")
    assert {r.status for r in n.outbox.all()} == {"sent"}


async def test_texts_follow_the_configured_wait(notifier: tuple[Notifier, FakeClock]) -> None:
    """main: "超过30分钟" whatever `unacknowledged_after` said."""
    n, clock = notifier
    params = IncidentParams(clocks=ClockPolicy(unacknowledged_after_s=45 * 60))
    out = opened(grade=Grade.IV, params=params)
    late = clocks.evaluate(out.state, DAY + timedelta(minutes=45))
    await publish(n, late)
    clock.now = (DAY + timedelta(minutes=45)).astimezone(UTC)
    await n.run_once()
    [text] = texts_to(n, "市政府总值班室")
    assert "推送后超过45分钟，责任单位仍未签收" in text and "30分钟" not in text


async def test_links_come_from_the_configured_public_url(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    """main: every link pointed to 127.0.0.1:8600."""
    n, _ = notifier
    out = opened()
    await publish(n, out)
    await n.run_once()
    [text] = texts_to(n, "市政府总值班室")[:1]
    assert f"详情：{PUBLIC}/#incident/{out.state.id}" in text and "127.0.0.1" not in text
    assert incident_link(None, "x") is None  # no public URL: no link, rather than a wrong one


async def test_an_incident_outside_the_jurisdiction_reaches_duty_staff_only(
    notifier: tuple[Notifier, FakeClock],
) -> None:
    n, _ = notifier
    out = opened(grade=Grade.I, where=SHANGHAI)
    await publish(n, out)
    await n.run_once()
    assert {name for r in sent(n) for name in r["to"]} == {"市政府总值班室"}  # type: ignore[attr-defined]
    assert all("【辖区外舆情（仅供关注）】" in str(r["title"]) for r in sent(n))


def test_a_message_rendered_late_says_it_is_a_catch_up() -> None:
    state: IncidentState = clocks.evaluate(opened().state, DAY + timedelta(hours=1)).state
    [intent] = clocks.evaluate(state, DAY + timedelta(hours=3)).notifications
    msg = from_intent(intent)
    assert "补发" not in render(msg, DAY + timedelta(hours=3, minutes=5)).text
    assert "补发" in render(msg, DAY + timedelta(hours=3, minutes=30)).text
