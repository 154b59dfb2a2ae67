"""Merge and split as explicit commands through the API (the same path as `monitor act`):
duty staff only, a merge within one worker partition or across keys, each refusal with nothing
changed."""

from __future__ import annotations

from datetime import timedelta

import httpx
import msgspec
import pytest

from monitor.config import load_config
from monitor.domain import incidents
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Status
from monitor.service import Classifier
from tests.web.conftest import BLAST, World, auth, open_incident


def second_blast(world: World) -> str:
    """Another report of a blast, opened as its own incident in the same partition."""
    text = BLAST.replace("宝台镇", "临江镇")
    state, _ = open_incident("p-blast-2", text, world.now - timedelta(minutes=50))
    assert state.key == world.blast.key
    world.put_state(state)
    return state.id


async def test_merge_is_sent_for_the_worker(client: httpx.AsyncClient, world: World) -> None:
    other = second_blast(world)
    body = {"id": "m1", "kind": "merge", "target": world.blast.id, "reason": "同一事件"}
    resp = await client.post(f"/api/incidents/{other}/actions", json=body, headers=auth("duty"))
    assert resp.status_code == 200, resp.text
    [(key, req)] = world.sent
    assert key == world.blast.key and req.action.kind == "merge"
    assert req.action.target == world.blast.id
    assert any(r["what"] == "act:merge" for r in world.store.audit_rows())


@pytest.mark.parametrize(
    ("who", "body", "status", "says"),
    [
        ("duty", {"kind": "merge"}, 422, "target"),
        ("duty", {"kind": "split"}, 422, "post_ids"),
        ("emergency", {"kind": "merge", "target": "X", "reason": "同一事件"}, 403, "值班"),
        ("duty", {"kind": "merge", "target": "no-such", "reason": "同一事件"}, 404, "no-such"),
    ],
)
async def test_refusals_change_nothing(
    client: httpx.AsyncClient, world: World, who: str, body: dict[str, str], status: int,
    says: str,
) -> None:  # fmt: skip
    before = world.snapshot()
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth(who))  # fmt: skip
    assert resp.status_code == status, resp.text
    assert says in resp.text
    assert world.snapshot() == before


async def test_merge_across_keys_names_the_target_key(
    client: httpx.AsyncClient, world: World
) -> None:
    """Another category family lives on another worker partition: the request goes to the
    source's key and names the target's, for the source's worker to hand the merge on."""
    body = {"id": "m2", "kind": "merge", "target": world.school.id, "reason": "同一事件"}
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    [(key, req)] = world.sent
    assert world.blast.key != world.school.key
    assert key == world.blast.key and req.target_key == world.school.key


async def test_merge_into_a_closed_incident_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    world.put_state(msgspec.structs.replace(world.school, status=Status.CLOSED))
    before = world.snapshot()
    body = {"kind": "merge", "target": world.school.id, "reason": "同一事件"}
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 409 and "closed" in resp.text, resp.text
    assert world.snapshot() == before and not world.sent


async def test_split_of_every_post_is_refused(client: httpx.AsyncClient, world: World) -> None:
    before = world.snapshot()
    body = {"id": "s0", "kind": "split", "post_ids": ["p-blast"], "reason": "另案"}
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 422 and "cannot split off every post" in resp.text
    assert world.snapshot() == before


async def test_split_is_sent_for_the_worker(client: httpx.AsyncClient, world: World) -> None:
    text = "乐至县童家镇一加油站发生爆炸，现场浓烟滚滚，伤亡不明。"
    post = Post(id="p-other", text=text, source="weibo", published_at=world.now - timedelta(
        minutes=40), observed_at=world.now - timedelta(minutes=40))  # fmt: skip
    cls = Classifier.from_config(load_config()).classify(post)
    params = IncidentParams()
    joined = incidents.add_post(world.blast, post, cls, params, decision=incidents.assign(
        [world.blast], post, cls, params, "512000"))  # fmt: skip
    world.put_state(joined.state)
    body = {"id": "s1", "kind": "split", "post_ids": ["p-other"], "reason": "另一事件"}
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    [(_, req)] = world.sent
    assert req.action.kind == "split" and req.action.post_ids == ("p-other",)
