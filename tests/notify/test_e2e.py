"""End to end through the incident domain: a grade-II incident opens, the department is told,
nobody acknowledges, the head is told after 30 minutes; an official release at 4 h 30 min stops
the 5-hour clock and the 24-hour press-conference warning still reaches the department. The
whole story, deliveries and the answer, is in the incident audit log with who and when."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

from sqlalchemy import Engine

from monitor.domain import clocks
from monitor.domain.actions import apply_action
from monitor.domain.evidence import Candidate, EvidencePolicy, confirm, match_official
from monitor.domain.state import IncidentState, Outcome
from monitor.notify.audit import WHO, audit_deliveries
from monitor.notify.config import NotifySettings
from monitor.notify.delivery import Notifier
from monitor.notify.message import from_intent
from monitor.runtime.actions import record_action
from monitor.store import Store
from monitor.store.db import iso, sqlite_url
from tests.notify.conftest import FakeClock, Services, build_notifier
from tests.notify.incident_builders import ACCOUNTS, T0, at, fire_incident, official_post

LINK = "https://yuqing.example.invalid/incidents/"


def publish(n: Notifier, out: Outcome) -> list[str]:
    """What the streams layer does with an outcome's intents: hand them to the notifier."""
    state = out.state
    for intent in out.notifications:
        n.submit(from_intent(intent, link=LINK + state.id))
    return [f"{i.step.value}:{i.clock or ''}" for i in out.notifications]


def sms_numbers(services: Services, since: int = 0) -> list[list[str]]:
    reqs = services.hook.service.accepted[since:]
    return [[r["address"] for r in req.json["recipients"]] for req in reqs]


async def run_until(n: Notifier, clock: FakeClock, state: IncidentState, hours: float) -> Outcome:
    """Advance simulated time to T0+hours in 1-minute steps, firing clocks and sending."""
    out = Outcome(state=state)
    while clock() < at(hours):
        clock.advance(minutes=1)
        step = clocks.evaluate(out.state, clock())
        publish(n, step)
        out = out.then(step)
        await n.run_once()
    return out


async def test_grade_two_escalates_to_the_head_and_keeps_the_press_conference_clock(
    sqlite_engine: Engine, services: Services, settings: NotifySettings, tmp_path: Path
) -> None:
    clock = FakeClock(T0.astimezone(UTC))
    for name in ("wecom", "ding", "feishu", "hook"):
        getattr(services, name).service.clock = clock
    store = Store(sqlite_url(tmp_path / "monitor.db"))
    n = build_notifier(settings, sqlite_engine, clock, on_sent=audit_deliveries(store))

    opened = fire_incident()
    assert publish(n, opened) == ["opened:"]
    await n.run_once()
    (card,) = services.feishu.service.accepted
    content = card.json["card"]["elements"][0]["text"]["content"]
    assert "<at id=ou_placeholder_body02></at>" in content  # 市消防救援支队's contact
    assert "权威信息发布：剩余 5小时0分" in content and "新闻发布会：剩余 24小时0分" in content
    assert sms_numbers(services) == [["13800000003"]]  # grade II: the leader in charge knows

    out = await run_until(n, clock, opened.state, hours=0.5)
    kinds = [e.kind.value for e in out.events]
    assert kinds == ["unacknowledged"]
    heads = sms_numbers(services, since=1)
    assert heads == [["13800001002", "13800001018"]]  # both bodies' heads, at 30 min
    head_sms = services.hook.service.accepted[1]
    assert head_sms.json["title"].startswith("【未确认升级】")
    assert services.hook.service.accepted_at[1] == at(0.5)  # told at 30 min, not before

    state = (await run_until(n, clock, out.state, hours=4.5)).state
    cand = match_official(official_post(), [state], EvidencePolicy(accounts=ACCOUNTS), now=clock())
    assert isinstance(cand, Candidate)
    store.save_states([state])
    # the answer takes the path `monitor act` and the API take: validated, archived, audited
    answered_at = clock()
    answer = record_action(store, confirm(cand, by="值班员 李四"), now=answered_at).action
    recorded = apply_action(state, answer, now=clock())
    publish(n, recorded)
    rest = await run_until(n, clock, recorded.state, hours=24)
    fired = [(e.kind.value, e.data.get("rule")) for e in rest.events]
    assert ("deadline_breached", "release") not in fired
    assert ("deadline_warning", "press_conference") in fired
    warnings = [r.json for r in services.feishu.service.accepted
                if r.json["card"]["header"]["title"]["content"].startswith("【时限预警】")]  # fmt: skip
    last = warnings[-1]["card"]["elements"][0]["text"]["content"]
    assert "权威信息发布：已按时完成" in last and "召开新闻发布会" in last
    assert {r.status for r in n.outbox.all()} == {"sent"}

    story = [(r["who"], r["what"], r["at"]) for r in store.audit_rows()]
    assert (WHO, "notify:opened", iso(at(0))) in story
    assert (WHO, "notify:unacknowledged", iso(at(0.5))) in story
    assert ("值班员 李四", "act:release", iso(answered_at)) in story
    [release] = [r for r in store.audit_rows() if r["what"] == "act:release"]
    assert json.loads(release["detail"])["at"] == iso(at(4.5))  # the post's time, not now
    warned = [a for w, what, a in story if what == "notify:warning"]
    assert warned and max(warned) > iso(at(4.5))  # the 24 h warning, after the release
    heads = [json.loads(r["detail"])["to"] for r in store.audit_rows()
             if r["what"] == "notify:unacknowledged"]  # fmt: skip
    assert heads and all(heads)
    store.close()
