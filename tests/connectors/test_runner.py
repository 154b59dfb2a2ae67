"""The runner: checkpoint and restart with no loss and no repeat, health, metrics, official
accounts, and a source that keeps running through failures."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from connectors.base import Schedule
from connectors.official import OfficialAccounts
from connectors.rss import RssSource
from connectors.sink import MemorySink
from connectors.weibo import WeiboSource
from tests.connectors.conftest import Reply, city_accounts, fail_then_stop, metric


def rss(*items: tuple[str, str]) -> Reply:
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>http://x.test/{g}</link>"
        f"<pubDate>2026-04-18 10:00</pubDate></item>"
        for g, t in items
    )
    xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    return Reply(body=xml.encode(), headers={"Content-Type": "application/rss+xml"})


async def test_restart_after_failed_send_loses_nothing_repeats_nothing(
    http_server, make_runner, store, registry
) -> None:
    url = http_server.route("/feed.xml", rss(("a", "甲"), ("b", "乙"), ("c", "丙")))
    sink1 = MemorySink()
    first = make_runner(RssSource("f", url), sink=sink1)
    await first.poll_once()
    http_server.route("/feed.xml", rss(("c", "丙"), ("d", "丁"), ("e", "戊")))
    sink1.fail_next = 1
    with pytest.raises(ConnectionError):
        await first.poll_once()  # the broker did not ack: nothing recorded as sent
    assert store.seen("f", ["rss:d", "rss:e"]) == set()
    # A new process with the same checkpoint store.
    sink2 = MemorySink()
    second = make_runner(RssSource("f", url), sink=sink2)
    await second.poll_once()
    assert sink1.ids == ["rss:a", "rss:b", "rss:c"]
    assert sink2.ids == ["rss:d", "rss:e"]


async def test_crash_between_ack_and_checkpoint_repeats_one_batch_with_same_ids(
    http_server, make_runner, store, sink, monkeypatch
) -> None:
    # At-least-once: the batch was acked, the checkpoint write died. The repeat carries the
    # same post ids, which consumers of posts.raw drop.
    url = http_server.route("/feed.xml", rss(("a", "甲"), ("b", "乙")))
    runner = make_runner(RssSource("f", url))
    real_commit = store.commit
    monkeypatch.setattr(
        store, "commit", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone"))
    )
    with pytest.raises(OSError):
        await runner.poll_once()
    monkeypatch.setattr(store, "commit", real_commit)
    await runner.poll_once()
    await runner.poll_once()
    assert sink.ids == ["rss:a", "rss:b", "rss:a", "rss:b"]
    assert store.seen("f", ["rss:a", "rss:b"]) == {"rss:a", "rss:b"}


async def test_keeps_running_through_failures_and_recovers(
    http_server, make_runner, sink, registry, clock
) -> None:
    answers = [
        Reply(500, b"down"),
        Reply(200, b"{not json"),
        rss(("a", "甲")),
        Reply(429, b""),
        rss(("a", "甲"), ("b", "乙")),
    ]
    url = http_server.route(
        "/feed.xml", lambda s: answers.pop(0) if len(answers) > 1 else answers[0]
    )
    runner = make_runner(
        RssSource("f", url), schedule=Schedule(interval=60, jitter=0.1, page_pause=0)
    )
    task = asyncio.create_task(runner.run())
    for _ in range(2000):
        if len(sink.posts) == 2:
            break
        await asyncio.sleep(0.005)
    runner.stop()
    await asyncio.wait_for(task, 5)
    assert sink.ids == ["rss:a", "rss:b"]
    assert runner.health.ok is True
    assert metric(registry, "connector_errors_total", source="f", kind="http_status") == 1
    assert metric(registry, "connector_errors_total", source="f", kind="invalid_xml") == 1
    assert metric(registry, "connector_errors_total", source="f", kind="refused") == 1
    assert metric(registry, "connector_posts_total", source="f") == 2
    assert metric(registry, "connector_up", source="f") == 1
    # Scheduled waits carry jitter: 60 s ± 10 %.
    intervals = [s for s in clock.slept if s >= 50]
    assert intervals and all(54 <= s <= 66 for s in intervals)
    assert len(set(intervals)) == len(intervals)


async def test_backoff_grows_between_consecutive_failures(http_server, make_runner, clock) -> None:
    url = http_server.route("/feed.xml", Reply(503, b""))
    runner = make_runner(
        RssSource("f", url), schedule=Schedule(backoff_initial=10, backoff_max=10_000)
    )
    random.seed(20260419)  # tenacity's full jitter draws from the global generator
    await fail_then_stop(runner, failures=6)
    assert runner.health.consecutive_failures == 6
    # Full jitter: wait n is drawn from [0, 10 s * 2^n], so the ceiling doubles each time.
    assert all(0 <= s <= 10 * 2 ** (n + 1) for n, s in enumerate(clock.slept))
    assert sum(clock.slept[3:]) > sum(clock.slept[:3])


async def test_official_accounts_marked(http_server, make_runner, sink, tmp_path) -> None:
    data = {
        "ok": 1,
        "data": {
            "cardlistInfo": {"since_id": None},
            "cards": [
                {
                    "card_type": 9,
                    "mblog": {
                        "id": "2",
                        "created_at": "刚刚",
                        "text": "转发",
                        "user": {"id": 111, "screen_name": "资阳应急"},
                        "retweeted_status": {
                            "id": "1",
                            "created_at": "5分钟前",
                            "text": "原文",
                            "user": {"id": 999, "screen_name": "网友"},
                        },
                    },
                },
            ],
        },
    }
    weibo = http_server.route("/getIndex", Reply(body=json.dumps(data).encode()))
    feed = http_server.route("/gov.xml", rss(("n1", "通告")))
    # the city config: a Weibo uid, a feed by its URL and another source of it by name
    official = OfficialAccounts(city_accounts(tmp_path, (
        f'[{{department: 市应急管理局, weibo_uid: ["111"], feeds: ["{feed}"]}}, '
        "{department: 市生态环境局, feeds: [dept]}]"
    )))  # fmt: skip
    await make_runner(WeiboSource("wb", weibo), official=official).poll_once()
    await make_runner(RssSource("gov", feed), official=official).poll_once()
    await make_runner(RssSource("dept", feed), official=official).poll_once()
    by_id = {(p.source, p.id): p for p in sink.posts}
    assert (
        by_id[("wb", "weibo:2")].official and by_id[("wb", "weibo:2")].department == "市应急管理局"
    )
    assert not by_id[("wb", "weibo:1")].official  # someone else's original, reposted
    assert by_id[("gov", "rss:n1")].department == "市应急管理局"  # by the feed's URL
    assert by_id[("dept", "rss:n1")].department == "市生态环境局"  # by the source's name


async def test_dedup_within_one_page(http_server, make_runner, sink, registry) -> None:
    url = http_server.route("/feed.xml", rss(("a", "甲"), ("a", "甲"), ("b", "乙")))
    await make_runner(RssSource("f", url)).poll_once()
    assert sink.ids == ["rss:a", "rss:b"]
    assert metric(registry, "connector_duplicates_total", source="f") == 1
