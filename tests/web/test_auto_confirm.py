"""Auto-confirm: an official post matching an open incident records a release by itself,
timed at the post, once, and only where the city config allows it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.domain.evidence import EvidencePolicy
from monitor.domain.model import Post
from monitor.runtime.auto_confirm import auto_confirm_pass, evidence_policy
from monitor.web.evidence import candidates
from tests.web.conftest import BLAST, World

ALLOW = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.3)


def official(world: World, minutes_after_first: int, text: str = "") -> Post:
    at = world.blast.first_seen + timedelta(minutes=minutes_after_first)
    return Post(
        id="weibo:yingji-1", text=text or f"【通报】{BLAST}事故原因正在调查。", source="weibo",
        url="https://weibo.example/yingji/1", author="资阳应急", published_at=at,
        official=True, department="市应急管理局",
    )  # fmt: skip


async def test_auto_confirmed_release_is_recorded_once_at_the_post_time(tmp_path: Path) -> None:
    world = World(tmp_path)
    post = official(world, 30)
    world.archive_post(post)
    done = await auto_confirm_pass(world.store, ALLOW, world.send, world.now)
    assert [r.action.kind for r in done] == ["release"]
    action = done[0].action
    assert action.at == post.published_at and action.url == post.url
    assert action.by == "auto:official-account" and action.incident_id == world.blast.id
    assert [k for k, _ in world.sent] == [done[0].request.key]
    audit = world.store.audit_rows()
    assert any(r["who"] == "auto:official-account" for r in audit), audit
    # the next pass finds it archived and records nothing again
    assert await auto_confirm_pass(world.store, ALLOW, world.send, world.now) == []
    assert len(world.sent) == 1


async def test_nothing_is_confirmed_unless_the_config_allows_it(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.archive_post(official(world, 30, "关于宝台镇化工厂爆炸事故救援进展的通报：伤员正在救治。"))
    assert await auto_confirm_pass(world.store, EvidencePolicy(), world.send, world.now) == []
    below = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.9)
    assert await auto_confirm_pass(world.store, below, world.send, world.now) == []
    assert world.sent == []
    # it is still a candidate for a person to confirm
    assert [c.post_id for c in candidates(world.store, world.blast.id, below, world.now)] == [
        "weibo:yingji-1"
    ]


def test_policy_from_config_section() -> None:
    p = evidence_policy({"auto_confirm": True, "auto_confirm_at": 0.7, "window": "PT1H"})
    assert p.auto_confirm and p.auto_confirm_at == 0.7 and p.window == timedelta(hours=1)
    with pytest.raises(ValueError, match="auto_confirm_at"):
        evidence_policy({"auto_confirm_at": "high"})
