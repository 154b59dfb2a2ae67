"""The API on a real SQLite store: answers recorded like `monitor act`, bad answers refused with
nothing changed, roles, idempotent ids, candidate releases, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor.domain.actions import apply_action
from monitor.domain.evidence import EvidencePolicy, OfficialAccounts
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.web.auth import Users
from monitor.web.status import create_app
from streams.processor import Bucket, Processor, Result
from tests.web.conftest import World, api_client, auth


@pytest.fixture
async def client(
    world: World, users: Users, registry: CollectorRegistry
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(world.store, registry, users=users, send=world.send, clock=lambda: world.now,
                     evidence=EVIDENCE)  # fmt: skip
    async with api_client(app) as c:
        yield c


# the city config's official_accounts: the feed 资阳应急-网站 is 市应急管理局's own
EVIDENCE = EvidencePolicy(accounts=OfficialAccounts(feeds={"资阳应急-网站": "市应急管理局"}))


def url(world: World, incident: str | None = None) -> str:
    return f"/api/incidents/{incident or world.blast.id}/actions"


async def test_list_and_detail(client: httpx.AsyncClient, world: World) -> None:
    rows = (await client.get("/api/incidents", headers=auth("leader"))).json()
    assert {r["id"] for r in rows} == {world.blast.id, world.school.id}
    d = (await client.get(f"/api/incidents/{world.blast.id}", headers=auth("leader"))).json()
    assert d["grade"] == "II" and d["grade_label"]
    release = next(c for c in d["clocks"] if c["rule"] == "release")
    # opened 1 h ago: 4 h of the 5 h release clock are left
    assert release["seconds_left"] == 4 * 3600
    assert [t["type"] for t in d["timeline"]] == ["opened"]  # posts are listed apart
    assert d["posts_total"] == 1 and d["facts"] == {"deaths": 12}
    assert d["can_act"] is False  # a leader reads only


async def test_release_recorded_archived_audited_and_sent(
    client: httpx.AsyncClient, world: World
) -> None:
    at = (world.now - timedelta(minutes=20)).isoformat()
    body = {"id": "rel-1", "kind": "release", "at": at, "channel": "资阳发布",
            "url": "https://www.ziyang.gov.cn/xw/1.html"}  # fmt: skip
    resp = await client.post(url(world), json=body, headers=auth("emergency"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["action"]["by"] == "应急局联络员"
    [(key, req)] = world.sent
    assert key == world.blast.key and req.action.kind == "release"
    assert req.action.url == body["url"] and req.action.at == datetime.fromisoformat(at)
    [archived] = [r for r in world.store.archived() if r.kind == "action"]
    assert archived.id == "rel-1"
    [audit] = world.store.audit_rows()
    assert (audit["who"], audit["what"], audit["incident_id"]) == (
        "应急局联络员",
        "act:release",
        world.blast.id,
    )
    # the worker's side: applying what was sent stops the 5 h release clock
    out = apply_action(world.blast, req.action, req.recorded_at)
    assert next(c for c in out.state.clocks if c.rule == "release").status == "met"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"kind": "release", "channel": "微博"}, 422, "url"),
        ({"kind": "release", "url": "not a url"}, 422, "http(s)"),
        ({"kind": "release", "url": "https://x.cn/1", "at": "FUTURE"}, 422, "future"),
        ({"kind": "release", "url": "https://x.cn/1", "at": "2026-01-01T08:00:00"}, 422, "at"),
        ({"kind": "regrade", "grade": "I"}, 422, "reason"),
        ({"kind": "dance"}, 422, "kind"),
        ({"kind": "acknowledge", "by": "someone else"}, 422, "by"),
    ],
)
async def test_bad_answers_change_nothing(
    client: httpx.AsyncClient,
    world: World,
    registry: CollectorRegistry,
    body: dict[str, str],
    status: int,
    words: str,
) -> None:
    if body.get("at") == "FUTURE":
        # beyond the 5 min allowed for clock drift (clocks.future_skew)
        body["at"] = (world.now + timedelta(minutes=5, seconds=1)).isoformat()
    before = world.snapshot()
    resp = await client.post(url(world), json=body, headers=auth("duty"))
    assert resp.status_code == status, resp.text
    assert words in resp.json()["error"]
    assert world.snapshot() == before
    labels = {"status": str(status), "path": "/api/incidents/{incident_id}/actions"}
    assert registry.get_sample_value("monitor_web_refused_total", labels) == 1


async def test_unknown_incident_is_404(client: httpx.AsyncClient, world: World) -> None:
    before = world.snapshot()
    resp = await client.post(url(world, "no-such"), json={"kind": "acknowledge"},
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 404 and "no-such" in resp.json()["error"]
    assert world.snapshot() == before


async def test_closed_incident_is_409(client: httpx.AsyncClient, world: World) -> None:
    resp = await client.post(url(world), json={"id": "c1", "kind": "close", "reason": "已处置"},
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 200
    [(_, req)] = world.sent
    world.put_state(apply_action(world.blast, req.action, req.recorded_at).state)  # the worker
    before = world.snapshot()
    resp = await client.post(url(world), json={"kind": "acknowledge"}, headers=auth("duty"))
    assert resp.status_code == 409 and "closed" in resp.json()["error"]
    assert world.snapshot() == before


async def test_duplicate_id_is_idempotent(client: httpx.AsyncClient, world: World) -> None:
    body = {"id": "ack-1", "kind": "acknowledge"}
    first = await client.post(url(world), json=body, headers=auth("duty"))
    again = await client.post(url(world), json=body, headers=auth("duty"))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replay"] == "true"
    assert len([r for r in world.store.archived() if r.kind == "action"]) == 1
    assert len(world.store.audit_rows()) == 1
    other = await client.post(url(world), json={"id": "ack-1", "kind": "close", "reason": "已处置"},
                              headers=auth("duty"))  # fmt: skip
    assert other.status_code == 409 and "different action" in other.json()["error"]
    assert len(world.store.audit_rows()) == 1


@pytest.mark.parametrize(
    ("who", "incident", "status"),
    [
        (None, "blast", 401), ("nobody", "blast", 401), ("leader", "blast", 403),
        ("education", "blast", 403), ("emergency", "school", 403),
        ("emergency", "blast", 200), ("duty", "school", 200), ("admin", "school", 200),
    ],
)  # fmt: skip
async def test_roles(
    client: httpx.AsyncClient, world: World, who: str | None, incident: str, status: int
) -> None:
    target = world.blast if incident == "blast" else world.school
    if who is None:
        headers = {}
    elif who == "nobody":
        headers = {"Authorization": "Bearer wrong-token-0123456789"}
    else:
        headers = auth(who)
    before = world.snapshot()
    resp = await client.post(url(world, target.id), json={"kind": "acknowledge"}, headers=headers)
    assert resp.status_code == status, resp.text
    if status != 200:
        message = resp.json()["error"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message)  # Chinese for officials
        assert ("令牌" if status == 401 else "无权") in message or "只读" in message
        assert world.snapshot() == before
    if status == 401:
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_reads_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/incidents")).status_code == 401


async def test_acknowledge_stops_the_unacknowledged_escalation(
    client: httpx.AsyncClient, world: World
) -> None:
    """Through the streams processor the worker runs: the 30-minute re-escalation fires
    without an answer and not after an acknowledgement posted to the API."""
    opened = world.blast.opened_at
    bucket = Bucket(key=world.blast.key, partition=0, incidents=(world.blast,), watermark=opened)
    proc = Processor(IncidentParams(), home="512000")

    def unacknowledged(res: Result) -> list[str]:
        return [n.key for n in res.notifications if n.step.value == "unacknowledged"]

    control = proc.on_tick(bucket, opened + timedelta(minutes=31))
    assert len(unacknowledged(control)) == 1
    world.now = opened + timedelta(minutes=12)  # entered 2 min after it happened
    at = (opened + timedelta(minutes=10)).isoformat()
    resp = await client.post(url(world), json={"kind": "acknowledge", "at": at},
                             headers=auth("emergency"))  # fmt: skip
    assert resp.status_code == 200
    [(_, req)] = world.sent
    acked = proc.on_action(bucket, req.action, req.recorded_at)
    later = proc.on_tick(acked.bucket, req.recorded_at + timedelta(hours=1))
    assert unacknowledged(acked) == unacknowledged(later) == []
    assert acked.bucket.incidents[0].acknowledged_at == datetime.fromisoformat(at)


async def test_candidate_release_confirmed_at_the_official_posts_time(
    client: httpx.AsyncClient, world: World
) -> None:
    published = world.now - timedelta(minutes=30)
    world.archive_post(Post(
        id="gov-1", text="关于雁江区宝台镇化工厂爆炸事故的情况通报：事故已造成12人死亡，多人受伤。",
        source="资阳应急-网站", published_at=published, observed_at=published,
        url="https://www.ziyang.gov.cn/tb/1.html", author="资阳应急",
    ))  # fmt: skip
    found = (await client.get(f"/api/incidents/{world.blast.id}/candidates",
                              headers=auth("duty"))).json()  # fmt: skip
    assert [c["post_id"] for c in found] == ["gov-1"]
    assert (await client.get(f"/api/incidents/{world.school.id}/candidates",
                             headers=auth("duty"))).json() == []  # fmt: skip
    resp = await client.post(
        f"/api/incidents/{world.blast.id}/candidates/{found[0]['id']}/confirm",
        headers=auth("emergency"),
    )
    assert resp.status_code == 200, resp.text
    [(_, req)] = world.sent
    assert req.action.kind == "release" and req.action.at == published
    assert req.action.url == "https://www.ziyang.gov.cn/tb/1.html"
    missing = await client.post(
        f"/api/incidents/{world.blast.id}/candidates/evidence:nope/confirm", headers=auth("duty")
    )
    assert missing.status_code == 404


async def test_openapi_and_metrics_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/incidents/{incident_id}/actions" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    page = await client.get("/")
    assert "值班台" in page.text and "/static/dashboard.js" in page.text
    assert "setInterval" in (await client.get("/static/dashboard.js")).text
