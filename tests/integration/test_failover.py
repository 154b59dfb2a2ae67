"""Two workers of one app, one killed with SIGKILL mid-stream, on the real bundled broker."""

from __future__ import annotations

import signal
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from benchmarks.pipeline import bench_posts
from monitor.runtime.broker import BundledBroker
from monitor.store import Store, sqlite_url
from monitor.topics import Topic, topic
from tests.integration.helpers import feed, read_topic, start_worker, stop, tick, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_two_workers_one_killed_mid_stream(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    db = sqlite_url(tmp_path / "failover.db")
    store = Store(db)
    w1 = start_worker(broker.url, prefix, db, tmp_path / "w1.log")
    w2 = start_worker(broker.url, prefix, db, tmp_path / "w2.log")
    posts = bench_posts(400, datetime(2026, 5, 1, tzinfo=UTC))
    try:
        feed(broker.url, prefix, posts[:200])
        wait_for(lambda: _posts_in(store) >= 100, 90, "half processed", [w1, w2])
        w1.send_signal(signal.SIGKILL)
        w1.wait()
        feed(broker.url, prefix, posts[200:])
        wait_for(lambda: _posts_in(store) >= 400, 120, "all posts after failover", [w2])
        # past every deadline: 5 h for I/II, 48 h for III/IV
        tick(broker.url, prefix, datetime(2026, 5, 3, 1, tzinfo=UTC))
        ids = [r.state.id for r in store.incidents()]
        wait_for(lambda: all(_breached(store, i) for i in ids), 60, "no clock lost", [w2])
    finally:
        stop(w2)
    seen: Counter[str] = Counter()
    for r in store.incidents():
        seen.update(m.post_id for m in r.state.members)
    assert set(seen) == {p.id for p in posts}, "every accepted post is in an incident"
    assert max(seen.values()) == 1, "and in exactly one"
    notes = read_topic(broker.url, topic(Topic.NOTIFICATIONS, prefix))
    content: dict[str, set[bytes]] = defaultdict(set)
    for n in notes:
        content[str(n["key"])].add(msgspec.json.encode(n))
    assert all(len(v) == 1 for v in content.values()), "a key re-emitted with other content"
    store.close()


def _posts_in(store: Store) -> int:
    return sum(r.state.heat.posts for r in store.incidents())


def _breached(store: Store, incident_id: str) -> bool:
    return any(e["kind"] == "deadline_breached" for e in store.events_of(incident_id))
