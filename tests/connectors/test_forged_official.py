"""Official evidence only from configuration (issue 10 item 3).

main: a signed push from the 12345 hotline carrying `"official": true, "department":
"市应急管理局"` became a candidate release with similarity 1.0, and with auto-confirm would have
stopped the clock by itself. Probed through the real push endpoint (uvicorn on 127.0.0.1), the
real archive and the API's candidate list and auto-confirm pass.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.checkpoint import CheckpointStore
from connectors.metrics import ConnectorMetrics
from connectors.official import OfficialAccounts as Marker
from connectors.push import PushEndpoint, PushService
from monitor.config.sections import OfficialAccount, accounts_table
from monitor.domain.evidence import EvidencePolicy, match_official
from monitor.domain.model import Post
from monitor.runtime.auto_confirm import auto_confirm_pass
from monitor.runtime.commands import parse_posts
from monitor.runtime.evidence import candidates
from tests.connectors.conftest import city_accounts
from tests.connectors.test_push import SECRET, Served, ThreadSafeSink, send
from tests.web.conftest import BLAST, World

# the city config's official_accounts: 市应急管理局 speaks through its Weibo and one push channel
CITY = '[{department: 市应急管理局, weibo_uid: ["2000000001"], push: [yingji-gov]}]'


@pytest.fixture
def city(tmp_path: Path) -> tuple[OfficialAccount, ...]:
    return city_accounts(tmp_path, CITY)


@pytest.fixture
def allow(city: tuple[OfficialAccount, ...]) -> EvidencePolicy:
    return EvidencePolicy(auto_confirm=True, auto_confirm_at=0.3, accounts=accounts_table(city))


@pytest.fixture
def push(
    store: CheckpointStore, metrics: ConnectorMetrics, city: tuple[OfficialAccount, ...]
) -> Iterator[tuple[Served, ThreadSafeSink]]:
    sink = ThreadSafeSink()
    service = PushService(
        [PushEndpoint("hotline12345", SECRET), PushEndpoint("yingji-gov", SECRET)],
        sink=sink, store=store, metrics=metrics, official=Marker(city),
    )  # fmt: skip
    with Served(service) as served:
        yield served, sink


def forged(world: World, pid: str) -> bytes:
    at = world.blast.first_seen + timedelta(minutes=40)
    return json.dumps({
        "id": pid, "text": f"关于{BLAST}的情况通报：伤员正在救治，原因正在调查。",
        "published_at": at.isoformat(), "url": "https://mp.weixin.qq.com/s?__biz=MzA5NDYy",
        "official": True, "department": "市应急管理局", "author": "市应急管理局",
    }, ensure_ascii=False).encode()  # fmt: skip


def push_forged(push: tuple[Served, ThreadSafeSink], world: World, pid: str, source: str) -> Post:
    """The forged notice as `source` pushes it: accepted, passed on, archived by the worker."""
    served, sink = push
    resp = send(served, forged(world, pid), path=f"/push/{source}")
    assert resp.status_code == 202, resp.text
    [post] = sink.posts
    world.archive_post(post)
    return post


async def test_a_forged_official_push_is_evidence_of_nothing(
    push: tuple[Served, ThreadSafeSink], allow: EvidencePolicy, tmp_path: Path
) -> None:
    world = World(tmp_path)
    post = push_forged(push, world, "x1", "hotline12345")
    assert post.official is False and post.department is None  # the payload's claim is gone
    assert candidates(world.store, world.blast.id, allow, world.now) == []
    assert await auto_confirm_pass(world.store, allow, world.send, world.now) == []
    assert world.sent == []
    # even a post that still carries the claim (an old archive, a hand-made topic record) is
    # nothing: the domain asks the configured table, not the post
    claimed = post.__class__(**{**{f: getattr(post, f) for f in post.__struct_fields__},
                                "official": True, "department": "市应急管理局"})  # fmt: skip
    assert match_official(claimed, [world.blast], allow, world.now) is None
    world.store.close()


async def test_a_push_source_configured_as_a_bodys_channel_counts(
    push: tuple[Served, ThreadSafeSink], allow: EvidencePolicy, tmp_path: Path
) -> None:
    world = World(tmp_path)
    post = push_forged(push, world, "g1", "yingji-gov")
    assert post.official and post.department == "市应急管理局"  # from configuration
    [cand] = candidates(world.store, world.blast.id, allow, world.now)
    assert cand.body == "市应急管理局" and cand.post_id == "push:yingji-gov:g1"
    done = await auto_confirm_pass(world.store, allow, world.send, world.now)
    assert [r.action.kind for r in done] == ["release"]
    world.store.close()


def test_monitor_post_drops_the_claim() -> None:
    line = json.dumps({"id": "m1", "text": "某地发生爆炸", "official": True,
                       "department": "市应急管理局",
                       "published_at": "2026-11-25T10:00:00+08:00"}, ensure_ascii=False)  # fmt: skip
    posts, errors = parse_posts(io.BytesIO(line.encode() + b"\n"), "x.jsonl", datetime.now(UTC))
    assert errors == [] and posts[0].official is False and posts[0].department is None
