"""The outbox dispatcher on simulated time: outages, rate limits, quiet hours, bad input."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from monitor.config import load_config
from monitor.domain.escalation import Step
from monitor.domain.model import Grade
from monitor.notify.config import NotifySettings, city_bodies, load_ladder
from monitor.notify.delivery import Notifier
from monitor.notify.message import ClockView, OutboxMessage
from monitor.notify.outbox import FAILED, SENT
from tests.notify.conftest import FakeClock, Services, build_notifier, metric, write_ladder

BODIES = ("市应急管理局", "雁江区人民政府")
ALL_BODIES = sorted(city_bodies(load_config()))


def opened(clock: FakeClock, n: int = 0, grade: Grade = Grade.II, **kw: object) -> OutboxMessage:
    base: dict[str, object] = dict(
        key=f"notify:inc{n}:opened", incident_id=f"inc{n}", step=Step.OPENED, grade=grade,
        at=clock(), title=f"测试事件{n:03d}号", place="资阳市雁江区", bodies=BODIES,
        clocks=(ClockView(name="release", deadline=clock() + timedelta(hours=5)),),
        link=f"https://yuqing.example.invalid/incidents/inc{n}",
    )  # fmt: skip
    base.update(kw)
    return OutboxMessage(**base)  # type: ignore[arg-type]


async def drive(n: Notifier, clock: FakeClock, minutes: float, step_s: float = 5.0) -> None:
    """Run the dispatcher every `step_s` simulated seconds for `minutes`."""
    end = clock() + timedelta(minutes=minutes)
    while clock() < end:
        await n.run_once()
        clock.advance(seconds=step_s)


def accepted_titles(services: Services, name: str) -> list[str]:
    fake = getattr(services, name).service
    lines = [line for req in fake.accepted for line in _content(req.json).splitlines()]
    return [line.strip("*").removeprefix("> ") for line in lines]


def _incident_titles(lines: list[str]) -> list[str]:
    """Incident titles in sent messages: digest items ("3. 【新舆情事件】…（") or single titles."""
    out = []
    for line in lines:
        if line[:1].isdigit() or line.startswith("【新舆情事件】"):
            out.append(line.split("】", 1)[1].split("（")[0])
    return out


def _content(body: dict[str, object]) -> str:
    kind = str(body.get("msgtype") or "")
    part = body.get(kind)
    if isinstance(part, dict):
        return str(part.get("content") or part.get("text"))
    if isinstance(body.get("text"), str):  # the signed webhook
        return str(body["text"])
    card = body["card"]
    assert isinstance(card, dict)
    return (
        str(card["header"]["title"]["content"]) + "\n" + str(card["elements"][0]["text"]["content"])
    )  # type: ignore[index]


async def test_one_message_reaches_every_channel_once_and_a_repeat_is_ignored(
    engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    reg = CollectorRegistry()
    n = build_notifier(settings, engine, clock, reg)
    first = n.submit(opened(clock))
    again = n.submit(opened(clock))  # a replay of the same intent
    assert first == again
    assert len(n.outbox.all()) == 5
    assert await n.run_once() == 5
    assert await n.run_once() == 0
    for name in ("wecom", "ding", "feishu", "hook"):
        assert len(getattr(services, name).service.accepted) == 1, name
    (mail,) = services.mail.mails
    assert set(mail.rcpt_tos) == {"duty@example.invalid", "body01-contact@example.invalid",
                                  "body17-contact@example.invalid"}  # fmt: skip
    assert metric(reg, "yuqing_notify_sent_total", channel="leaders-dingtalk") == 1
    # A fresh process on the same outbox (a restart) finds nothing to send.
    restarted = build_notifier(settings, engine, clock)
    assert restarted.recover() == []
    restarted.submit(opened(clock))
    assert await restarted.run_once() == 0
    assert {r.status for r in restarted.outbox.all()} == {SENT}


async def test_endpoint_down_ten_minutes_loses_nothing_and_sends_nothing_twice(
    engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    reg = CollectorRegistry()
    n = build_notifier(settings, engine, clock, reg)
    feishu = services.feishu.service
    feishu.down = True
    for i in range(3):
        n.submit(opened(clock, i))
    await drive(n, clock, minutes=10)
    assert feishu.accepted == [] and len(feishu.received) >= 3 * 3
    feishu.down = False
    await drive(n, clock, minutes=10)
    titles = Counter(
        t for t in accepted_titles(services, "feishu") if t.startswith("【新舆情事件】")
    )
    assert titles == Counter({f"【新舆情事件】测试事件{i:03d}号": 1 for i in range(3)})
    rows = n.outbox.all()
    assert {r.status for r in rows} == {SENT}
    assert all(r.attempts > 3 for r in rows if r.channel == "departments-feishu")
    assert metric(reg, "yuqing_notify_retries_total", channel="departments-feishu") >= 9
    # Duty staff heard of each stuck notice once, through another channel, while retries went on.
    alerts = [t for t in accepted_titles(services, "wecom") if t.startswith("【通知发送失败】")]
    assert sorted(alerts) == sorted(
        f"【通知发送失败】测试事件{i:03d}号（渠道：departments-feishu）" for i in range(3)
    )
    assert metric(reg, "yuqing_notify_alerts_total", reason="delivery_failed") == 3


async def test_hundred_incidents_at_once_respect_the_limit_and_reach_everyone(
    sqlite_engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    reg = CollectorRegistry()
    n = build_notifier(settings, sqlite_engine, clock, reg)
    for i in range(100):
        body = ALL_BODIES[i % len(ALL_BODIES)]
        n.submit(opened(clock, i, grade=Grade.IV, bodies=(body,)))
    await drive(n, clock, minutes=5, step_s=2)
    wecom = services.wecom.service
    assert wecom.max_per_minute() <= 20
    assert len(wecom.received) == len(wecom.accepted)  # never answered 45009
    seen = Counter(_incident_titles(accepted_titles(services, "wecom")))
    assert seen == Counter({f"测试事件{i:03d}号": 1 for i in range(100)})
    assert {r.status for r in n.outbox.all()} == {SENT}
    assert metric(reg, "yuqing_notify_coalesced_total", channel="duty-wecom") >= 90
    assert len(wecom.accepted) <= 20  # all of it within the first minute
    # Every department contact got its own incidents over Feishu (100/min: no digest needed).
    assert len(services.feishu.service.accepted) == 100
    mails = services.mail.mails
    assert len(mails) <= 60 and sum(m.message.get_body(("plain",)).get_content().count("测试事件")
                                    for m in mails) == 100  # fmt: skip


async def test_robot_send_too_fast_answer_holds_the_channel(
    sqlite_engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    # The robot was used by another system this minute: our own window does not know it.
    ding = services.ding.service
    ding.limit_per_minute = 2
    n = build_notifier(settings, sqlite_engine, clock)
    for i in range(4):
        n.submit(opened(clock, i))  # grade II: leader in charge on DingTalk
    await drive(n, clock, minutes=3, step_s=5)
    answers = [r for r in ding.received if r not in ding.accepted]
    assert answers, "the fake should have said send too fast at least once"
    assert len(answers) <= 2  # after 130101 we wait a window instead of hammering
    assert {r.status for r in n.outbox.all()} == {SENT}


async def test_a_rejected_send_fails_alerts_duty_and_counts(
    sqlite_engine: Engine, services: Services, tmp_path: Path, clock: FakeClock
) -> None:
    specs = services.channel_specs()
    next(s for s in specs if s["type"] == "feishu")["secret"] = "wrong"
    path = write_ladder(tmp_path / "bad.yaml", services, channels=specs)
    reg = CollectorRegistry()
    n = build_notifier(load_ladder(path), sqlite_engine, clock, reg)
    n.submit(opened(clock))
    await n.run_once()
    await n.run_once()
    by_channel = {r.channel: r for r in n.outbox.all() if not r.key.startswith("alert/")}
    assert by_channel["departments-feishu"].status == FAILED
    assert "19021" in (by_channel["departments-feishu"].last_error or "")
    assert metric(reg, "yuqing_notify_failed_total", channel="departments-feishu") == 1
    alert = next(m for m in services.mail.mails if "通知发送失败" in str(m.message["Subject"]))
    assert "19021" in alert.message.get_body(("plain",)).get_content()
    assert alert.rcpt_tos == ["duty@example.invalid"]


async def test_quiet_hours_hold_grade_four_until_morning_but_not_grade_two(
    sqlite_engine: Engine, services: Services, settings: NotifySettings
) -> None:
    from tests.notify.conftest import START

    night = FakeClock(START + timedelta(hours=13))  # 23:00 in Ziyang
    for fake in (services.wecom, services.ding, services.feishu, services.hook):
        fake.service.clock = night
    n = build_notifier(settings, sqlite_engine, night)
    n.submit(opened(night, 1, grade=Grade.IV))
    n.submit(opened(night, 2, grade=Grade.II))
    await n.run_once()

    def sent() -> set[tuple[str, bool]]:
        """(incident, held row) of what was sent: held rows' keys end in /quiet."""
        return {(r.incident_id, r.key.endswith("/quiet")) for r in n.outbox.all()
                if r.status == SENT}  # fmt: skip

    # grade IV reaches the duty office at once; its departments wait for the morning
    assert sent() == {("inc2", False), ("inc1", False)}
    duty_only = [r for r in n.outbox.all() if r.incident_id == "inc1" and r.status == SENT]
    assert all('"duty_staff"' in r.recipients and '"department' not in r.recipients
               for r in duty_only)  # fmt: skip
    night.advance(hours=8, minutes=29)  # 07:29
    await n.run_once()
    assert sent() == {("inc2", False), ("inc1", False)}
    night.advance(minutes=1)  # 07:30
    await n.run_once()
    assert {r.status for r in n.outbox.all()} == {SENT}


async def test_bad_records_go_to_the_dead_letter_sink_and_good_ones_still_flow(
    sqlite_engine: Engine, settings: NotifySettings, clock: FakeClock
) -> None:
    dead: list[tuple[bytes, str]] = []
    reg = CollectorRegistry()
    n = build_notifier(settings, sqlite_engine, clock, reg,
                       dead_letter=lambda raw, why: dead.append((raw, why)))  # fmt: skip
    assert n.submit_raw(b"{not json", source="notifications@7") is None
    assert n.submit_raw(b'{"incident_id": "x"}', source="notifications@8") is None
    assert (
        n.submit_raw(
            b'{"key": "k", "incident_id": "x", "step": "exploded", "grade": "II",'
            b' "at": "2026-11-25T02:00:00Z", "title": "t"}',
            "notifications@9",
        )
        is None
    )
    assert [why.split(":")[0] for _, why in dead] == ["notifications@7", "notifications@8",
                                                       "notifications@9"]  # fmt: skip
    assert "missing required field `key`" in dead[1][1]
    assert "step" in dead[2][1]
    assert metric(reg, "yuqing_notify_bad_input_total", source="notifications") == 0
    assert metric(reg, "yuqing_notify_bad_input_total", source="notifications@7") == 1
    good = opened(clock)
    import msgspec

    assert n.submit_raw(msgspec.json.encode(good)) is not None
    assert len(n.outbox.all()) == 5


async def test_a_body_nobody_covers_is_raised_to_duty_staff(
    sqlite_engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    reg = CollectorRegistry()
    n = build_notifier(settings, sqlite_engine, clock, reg)
    decided = n.submit(opened(clock, bodies=("不存在的局",)))
    # The leader in charge falls back to the city-wide one; a department contact cannot.
    assert [(u.role.value, u.body) for u in decided.unreachable] == [
        ("department_contact", "不存在的局")
    ]
    assert metric(reg, "yuqing_notify_unreachable_total", role="department_contact") == 1
    await n.run_once()
    text = "\n".join(accepted_titles(services, "wecom"))
    assert "不存在的局的部门联络人" in text


@pytest.mark.parametrize("grade", [Grade.II])
async def test_dry_run_channel_records_instead_of_sending(
    sqlite_engine: Engine, services: Services, tmp_path: Path, clock: FakeClock, grade: Grade
) -> None:
    log = tmp_path / "dry.jsonl"
    specs = [{"name": s["name"], "type": "dryrun", "url": f"dryrun:{log}"}
             for s in services.channel_specs()]  # fmt: skip
    path = write_ladder(tmp_path / "dry.yaml", services, channels=specs)
    n = build_notifier(load_ladder(path), sqlite_engine, clock)
    n.submit(opened(clock, grade=grade))
    assert await n.run_once() == 5
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5 and all("测试事件000号" in line for line in lines)
    assert all(
        not getattr(services, f).service.received for f in ("wecom", "ding", "feishu", "hook")
    )


async def test_the_rate_window_survives_a_restart(
    sqlite_engine: Engine, services: Services, settings: NotifySettings, clock: FakeClock
) -> None:
    first = build_notifier(settings, sqlite_engine, clock)
    for i in range(20):
        first.submit(opened(clock, i, grade=Grade.IV))
    await first.run_once()
    wecom = services.wecom.service
    assert len(wecom.accepted) == 20
    clock.advance(seconds=10)
    restarted = build_notifier(settings, sqlite_engine, clock)
    restarted.recover()  # reads the last minute's sends back from the outbox
    restarted.submit(opened(clock, 99, grade=Grade.IV))
    await restarted.run_once()
    assert len(wecom.received) == 20  # held: the robot's minute is already full
    clock.advance(seconds=51)
    await restarted.run_once()
    assert len(wecom.accepted) == 21 and wecom.max_per_minute() <= 20


async def test_replay_wiring_sends_nothing_and_backlog_is_exported(
    tmp_path: Path, ladder_path: Path, services: Services, clock: FakeClock
) -> None:
    from monitor.notify.bootstrap import create_notifier

    reg = CollectorRegistry()
    n = create_notifier(f"sqlite:///{tmp_path / 'replay.db'}", reg, ladder_path, dry_run=True,
                        clock=clock)  # fmt: skip
    n.submit(opened(clock))
    n.submit(opened(clock, 1, grade=Grade.IV, at=clock() + timedelta(hours=13)))
    assert await n.run_once() == 5
    assert all(
        not getattr(services, f).service.received for f in ("wecom", "ding", "feishu", "hook")
    )
    assert services.mail.mails == []
    recorded = [r["title"] for ch in n.channels.values() for r in ch.sent]  # type: ignore[attr-defined]
    assert len(recorded) == 5 and all(t == "【新舆情事件】测试事件000号" for t in recorded)
    assert metric(reg, "yuqing_notify_outbox", status="sent") == 5
    # not yet due (its step is 13 h ahead): duty staff's wecom and email, and the departments'
    # feishu and email, held for quiet hours as separate rows
    assert metric(reg, "yuqing_notify_outbox", status="pending") == 4


async def test_times_without_a_zone_are_refused_on_both_paths(
    sqlite_engine: Engine, settings: NotifySettings, clock: FakeClock
) -> None:
    import msgspec

    from monitor.notify.delivery import BadMessage

    dead: list[str] = []
    n = build_notifier(
        settings, sqlite_engine, clock, dead_letter=lambda raw, why: dead.append(why)
    )
    raw = msgspec.json.encode(opened(clock)).replace(b'Z"', b'"')  # strip the zone
    assert n.submit_raw(raw, "notifications@3") is None
    assert "Expected `datetime` with a timezone component" in dead[0] and "$.at" in dead[0]
    naive = opened(clock, at=clock().replace(tzinfo=None))
    with pytest.raises(BadMessage, match="time without a zone in at"):
        n.submit(naive)
    assert n.outbox.all() == []


async def test_run_forever_sends_and_stops_on_request(
    tmp_path: Path, ladder_path: Path, clock: FakeClock
) -> None:
    import asyncio

    from monitor.notify.bootstrap import create_notifier

    n = create_notifier(f"sqlite:///{tmp_path / 'loop.db'}", CollectorRegistry(), ladder_path,
                        dry_run=True, clock=clock)  # fmt: skip
    n.submit(opened(clock))
    stop = asyncio.Event()
    task = asyncio.create_task(n.run_forever(stop, interval_s=0.01))
    for _ in range(200):
        if {r.status for r in n.outbox.all()} == {SENT}:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert {r.status for r in n.outbox.all()} == {SENT}
