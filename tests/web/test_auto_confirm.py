"""Auto-confirm: an official post matching an open incident records a release by itself,
timed at the post, once, and only where the city config allows it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import ConfigError, evidence_policy, load_config
from monitor.domain.evidence import EvidencePolicy, OfficialAccounts
from monitor.domain.model import Post
from monitor.runtime.auto_confirm import auto_confirm_pass
from monitor.runtime.evidence import candidates
from monitor.testing import city_config_text
from tests.web.conftest import BLAST, World

ACCOUNTS = OfficialAccounts(weibo={"2000000001": "市应急管理局"})  # 资阳应急's Weibo uid
ALLOW = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.3, accounts=ACCOUNTS)


def official(world: World, minutes_after_first: int, text: str = "") -> Post:
    at = world.blast.first_seen + timedelta(minutes=minutes_after_first)
    return Post(
        id="weibo:yingji-1", text=text or f"【通报】{BLAST}事故原因正在调查。", source="weibo",
        url="https://weibo.example/yingji/1", author="资阳应急", author_id="2000000001",
        published_at=at,
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
    assert await auto_confirm_pass(world.store, EvidencePolicy(accounts=ACCOUNTS), world.send,
                                   world.now) == []  # fmt: skip
    below = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.9, accounts=ACCOUNTS)
    assert await auto_confirm_pass(world.store, below, world.send, world.now) == []
    assert world.sent == []
    # it is still a candidate for a person to confirm
    assert [c.post_id for c in candidates(world.store, world.blast.id, below, world.now)] == [
        "weibo:yingji-1"
    ]


def test_policy_from_config_section(tmp_path: Path) -> None:

    text = city_config_text()
    city = tmp_path / "city.yaml"
    city.write_text(text.replace("  auto_confirm: false\n  auto_confirm_at: 0.6\n",
                                 "  auto_confirm: true\n  auto_confirm_at: 0.7\n  window: 1h\n"),
                    "utf-8")  # fmt: skip
    p = evidence_policy(load_config(city))
    assert p.auto_confirm and p.auto_confirm_at == 0.7 and p.window == timedelta(hours=1)
    city.write_text(text.replace("  auto_confirm_at: 0.6\n", "  auto_confirm_at: high\n"), "utf-8")
    with pytest.raises(ConfigError, match="auto_confirm_at"):
        load_config(city)
