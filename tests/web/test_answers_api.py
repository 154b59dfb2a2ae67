"""Answers that keep their meaning, probed as the issue found them: through the HTTP API on a
real SQLite store, with the worker's side played by the streams Processor the worker runs."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from streams.processor import Bucket, Processor
from tests.web.conftest import World, auth

URL = "https://www.ziyang.gov.cn/xw/1.html"


def actions_url(state: IncidentState) -> str:
    return f"/api/incidents/{state.id}/actions"


def worker_applies(world: World, state: IncidentState) -> IncidentState:
    """What the worker does with every request the API sent, then saves (the read model)."""
    proc = Processor(IncidentParams(), home="512000")
    bucket = Bucket(key=state.key, partition=0, incidents=(state,), watermark=world.now)
    for _, req in world.sent:
        bucket = proc.on_action(bucket, req.action, req.recorded_at).bucket
    [after] = bucket.incidents
    world.put_state(after)
    return after


def breach_release(world: World) -> IncidentState:
    """Six hours after the blast's first post, the 5 h release clock has breached."""
    world.now = world.blast.first_seen + timedelta(hours=6)
    proc = Processor(IncidentParams(), home="512000")
    bucket = Bucket(key=world.blast.key, partition=0, incidents=(world.blast,))
    [state] = proc.on_tick(bucket, world.now).bucket.incidents
    world.put_state(state)
    assert next(c.status for c in state.clocks if c.rule == "release") == "breached"
    return state


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kind": "close", "reason": "已处置"}, "仅限值班人员"),
        ({"kind": "regrade", "grade": "I", "reason": "升级"}, "仅限值班人员"),
        ({"kind": "merge", "target": "x", "reason": "同一事件"}, "仅限值班人员"),
    ],
)
async def test_a_department_may_not_close_regrade_or_merge(
    client: httpx.AsyncClient, world: World, body: dict[str, str], says: str
) -> None:
    """main: 市应急管理局 closed its own incident and regraded it IV → I."""
    before = world.snapshot()
    resp = await client.post(actions_url(world.blast), json=body, headers=auth("emergency"))
    assert resp.status_code == 403, resp.text
    assert says in resp.json()["error"]
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("at", "says"),
    [
        ("2000-01-01T08:00:00+08:00", "before the incident's first post"),
        (12345, "ISO 8601"),
        ("12345", "ISO 8601"),
    ],
)
async def test_a_release_dated_long_ago_is_refused(
    client: httpx.AsyncClient, world: World, at: object, says: str
) -> None:
    """main: a release at 2000-01-01, and one at `at: 12345` (1970), were accepted."""
    before = world.snapshot()
    body = {"kind": "release", "url": URL, "at": at}
    resp = await client.post(actions_url(world.blast), json=body, headers=auth("duty"))
    assert resp.status_code == 422, resp.text
    assert says in resp.json()["error"]
    assert world.snapshot() == before


async def test_a_backdated_release_is_kept_marked_and_late(
    client: httpx.AsyncClient, world: World
) -> None:
    """main: the release dated before the deadline, entered after the breach, read 已按时完成."""
    breach_release(world)
    dated = world.blast.first_seen + timedelta(hours=4)
    body = {"id": "rel-late", "kind": "release", "url": URL, "at": dated.isoformat()}
    resp = await client.post(actions_url(world.blast), json=body, headers=auth("emergency"))
    assert resp.status_code == 200, resp.text
    [audit] = [r for r in world.store.audit_rows() if r["what"] == "act:release"]
    assert '"backdated": true' in audit["detail"]
    assert world.now.isoformat() in audit["detail"]  # recorded_at
    state = worker_applies(world, world.store.incident(world.blast.id).state)  # type: ignore[union-attr]
    release = next(c for c in state.clocks if c.rule == "release")
    assert (release.status, release.stopped_at) == ("late", dated)
    detail = (await client.get(f"/api/incidents/{world.blast.id}", headers=auth("duty"))).json()
    assert next(c for c in detail["clocks"] if c["rule"] == "release")["status"] == "late"


async def test_closing_dated_early_keeps_the_breach(
    client: httpx.AsyncClient, world: World
) -> None:
    """main: a close dated first post + 2 min turned the breached release clock into met."""
    breached = breach_release(world)
    dated = world.blast.first_seen + timedelta(minutes=2)
    body = {"kind": "close", "reason": "已处置", "at": dated.isoformat()}
    resp = await client.post(actions_url(world.blast), json=body, headers=auth("duty"))
    assert resp.status_code == 200, resp.text
    state = worker_applies(world, breached)
    assert {c.rule: c.status for c in state.clocks} == {
        "release": "breached", "press_conference": "not_done", "follow_up": "not_done",
    }  # fmt: skip


async def test_a_duty_regrade_down_takes_effect(client: httpx.AsyncClient, world: World) -> None:
    """Moved from issue 13: lowering a grade answered 已登记 and did nothing."""
    body = {"kind": "regrade", "grade": "III", "reason": "核实后死亡人数有误"}
    resp = await client.post(actions_url(world.blast), json=body, headers=auth("duty"))
    assert resp.status_code == 200, resp.text
    state = worker_applies(world, world.blast)
    assert state.grade.value == "III"
    detail = (await client.get(f"/api/incidents/{world.blast.id}", headers=auth("duty"))).json()
    assert detail["grade"] == "III" and [c["rule"] for c in detail["clocks"]] == ["answer"]


async def test_leader_reads_and_cannot_act(client: httpx.AsyncClient, world: World) -> None:
    detail = (await client.get(f"/api/incidents/{world.blast.id}", headers=auth("leader"))).json()
    assert detail["can_act"] is False
    resp = await client.post(
        actions_url(world.blast), json={"kind": "acknowledge"}, headers=auth("leader")
    )
    assert resp.status_code == 403 and "只读" in resp.json()["error"]
