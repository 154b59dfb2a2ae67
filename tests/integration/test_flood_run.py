"""benchmarks/flood.py's flood at a small size through a real `monitor run` (embedded broker,
temporary data directory, no demo): every post sent is applied, once, to the incident its
story is about. The benchmark prints the same counts at 200,000 posts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from benchmarks.dashboard import start_monitor
from benchmarks.flood import feed
from benchmarks.flood_posts import flood_stories
from monitor.store import Store
from tests.integration.helpers import metrics_value, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

POSTS, STORIES = 3000, 40


def test_every_flood_post_sent_is_applied(tmp_path: Path) -> None:
    run = start_monitor(tmp_path / "data")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        sent = int(asyncio.run(feed(run.broker, POSTS, STORIES, seed=3))["sent"])
        assert sent == POSTS

        def held() -> int:
            return sum(r.state.heat.posts for r in store.incidents())

        wait_for(lambda: held() >= sent, 300, "every flood post in the store", [run.proc])
        rows = store.incidents()
        applied = metrics_value(run.worker_metrics, "monitor_inputs_total", kind="post")
        dead = metrics_value(run.worker_metrics, "monitor_dead_letters_total")
        ignored = metrics_value(run.worker_metrics, "monitor_posts_ignored_total")
    finally:
        store.close()
        run.proc.send_signal(signal.SIGTERM)
        try:
            run.proc.wait(60)
        except subprocess.TimeoutExpired:
            run.proc.kill()
    assert sum(r.state.heat.posts for r in rows) == sent  # none twice
    assert applied == sent
    assert (dead, ignored) == (0, 0)
    # one incident per story: the stories of a kind do not read as near duplicates
    assert len(rows) == STORIES
    towns = {r.state.location.town for r in rows}
    assert towns == {s.town for s in flood_stories(STORIES)}
