"""A major incident floods the feed, and a source dates a post next year: the real broker and a
worker process, as issue 10 and 11 found them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain.model import Post
from monitor.runtime.broker import BundledBroker, free_port
from monitor.store import Store, sqlite_url
from monitor.topics import MAX_RECORD_BYTES
from tests.integration.helpers import (
    BLAST,
    feed,
    metrics_value,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

INCIDENTS, POSTS_EACH = 40, 320
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def flood() -> list[Post]:
    """40 grade II blasts, 73 h apart (beyond the assignment window, so each is its own
    incident in one key), 320 posts each, interleaved as a flood arrives."""
    posts = []
    for k in range(POSTS_EACH):
        for i in range(INCIDENTS):
            at = T0 + timedelta(hours=73 * i, seconds=k)
            posts.append(Post(id=f"i{i}p{k}", text=f"{BLAST}（网友{k}）", source="weibo",
                              published_at=at, observed_at=at, author_followers=k))  # fmt: skip
    return posts


def test_forty_incidents_of_320_posts_are_applied_whole(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    """Was: a ~1 MB state record for the key, MessageSizeTooLargeError every ~5 s, 8,030 of
    12,800 posts applied, actions and ticks stalled."""
    db = sqlite_url(tmp_path / "monitor.db")
    worker = start_worker(broker.url, prefix, db, tmp_path / "worker.log")
    store = Store(db)
    try:
        feed(broker.url, prefix, flood())
        applied = lambda: sum(r.state.heat.posts for r in store.incidents())  # noqa: E731
        wait_for(lambda: applied() == INCIDENTS * POSTS_EACH, 300, "every post applied", [worker])
        rows = store.incidents()
    finally:
        stop(worker)
        store.close()
    assert len(rows) == INCIDENTS
    assert {r.state.heat.posts for r in rows} == {POSTS_EACH}
    # members are capped; the count is whole
    assert max(len(r.state.members) for r in rows) == 300
    from streams.buckets import encode_state

    assert max(len(encode_state(r.state)) for r in rows) < MAX_RECORD_BYTES // 8
    assert "MessageSizeTooLarge" not in (tmp_path / "worker.log").read_text()


def test_a_post_dated_next_year_moves_no_clock(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    """Was: one post dated 2027 moved its family's watermark forward for good; within 8 s every
    clock of the family breached (189 breaches, 380 warnings, 2,474 notifications)."""
    db = sqlite_url(tmp_path / "monitor.db")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker = start_worker(broker.url, prefix, db, tmp_path / "worker.log", live=True, port=port)
    store = Store(db)
    now = datetime.now(UTC)
    blast = Post(id="now1", text=BLAST, source="weibo", published_at=now, observed_at=now)
    mine = Post(id="y2027", text="资阳市安岳县岳阳镇一煤矿发生透水事故，15人被困井下。",
                source="push", published_at=datetime(2027, 6, 1, tzinfo=UTC))  # fmt: skip
    try:
        feed(broker.url, prefix, [blast, mine])
        wait_for(lambda: {"now1", "y2027"} <= _assigned(store), 90, "both posts", [worker])
        ticks = metrics_value(base, "monitor_inputs_total", kind="tick")
        wait_for(lambda: metrics_value(base, "monitor_inputs_total", kind="tick") >= ticks + 8,
                 30, "eight more ticks", [worker])  # fmt: skip
        fired = [e for e in store.events_of() if e["kind"] in
                 ("deadline_breached", "deadline_warning", "unacknowledged")]  # fmt: skip
        clamped = metrics_value(base, "monitor_post_time_clamped_total")
        watermark = metrics_value(base, "monitor_watermark_seconds")
    finally:
        stop(worker)
    assert fired == []
    assert clamped == 1
    assert watermark <= datetime.now(UTC).timestamp() + 300
    [assigned] = [e for e in store.events_of() if e["kind"] == "assigned"
                  and e["data"]["post_id"] == "y2027"]  # fmt: skip
    assert assigned["data"]["claimed"]["published_at"].startswith("2027-06-01")
    assert datetime.fromisoformat(assigned["at"]) < datetime(2027, 1, 1, tzinfo=UTC)
    store.close()


def _assigned(store: Store) -> set[str]:
    return {str(e["data"]["post_id"]) for e in store.events_of() if e["kind"] == "assigned"}
