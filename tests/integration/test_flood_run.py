"""benchmarks/flood.py's flood at a small size through a real `monitor run` (embedded broker,
temporary data directory, no demo): every post sent is applied, once, to the incident its
story is about. The benchmark prints the same counts at 200,000 posts. SIGTERM in the middle
of a flood stops the monitor within 10 s, and the next start applies the rest, each once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks._monitor import start_monitor
from benchmarks.flood import feed
from benchmarks.flood_posts import flagged_ids, flood_posts, flood_stories
from monitor.runtime.broker import free_port
from monitor.store import Store
from tests.integration.helpers import metrics_value, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

POSTS, STORIES = 3000, 40


def flagged(n: int, seed: int) -> set[str]:
    return flagged_ids(flood_posts(flood_stories(STORIES), n, datetime.now(UTC), seed))


def archived_posts(store: Store) -> set[str]:
    """Ids of the posts archived raw or as classified input (`input` rows `post:ID`)."""
    ids = set()
    for row in store.archived():
        if row.kind == "post":
            ids.add(row.id)
        elif row.kind == "input" and row.id.startswith("post:"):
            ids.add(row.id.removeprefix("post:"))
    return ids


def test_every_flood_post_sent_is_applied(tmp_path: Path) -> None:
    run = start_monitor(tmp_path / "data")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    try:
        sent = int(asyncio.run(feed(run.broker, POSTS, STORIES, seed=3))["sent"])
        assert sent == POSTS
        incident_posts = len(flagged(POSTS, seed=3))

        def held() -> int:
            return sum(r.state.heat.posts for r in store.incidents())

        wait_for(lambda: held() >= incident_posts, 300, "every incident post in the store",
                 [run.proc])  # fmt: skip
        wait_for(lambda: metrics_value(run.worker_metrics, "monitor_posts_ignored_total")
                 >= sent - incident_posts, 60, "every other post ignored", [run.proc])  # fmt: skip
        rows = store.incidents()
        applied = metrics_value(run.worker_metrics, "monitor_inputs_total", kind="post")
        dead = metrics_value(run.worker_metrics, "monitor_dead_letters_total")
        ignored = metrics_value(run.worker_metrics, "monitor_posts_ignored_total")
    finally:
        store.close()
        run.stop()
    assert sum(r.state.heat.posts for r in rows) == incident_posts  # none lost, none twice
    assert applied == incident_posts  # the incident stage's inputs: the posts it was given
    assert (dead, ignored) == (0, sent - incident_posts)
    # every story has its incident, in its own town; a story whose voices the model files
    # under two category families makes one incident per family (they are different keys)
    assert STORIES <= len(rows) <= 2 * STORIES
    towns = {r.state.location.town for r in rows}
    assert towns == {s.town for s in flood_stories(STORIES)}


def test_sigterm_mid_flood_stops_the_monitor_and_a_restart_applies_the_rest(tmp_path: Path) -> None:
    n = 6000
    run = start_monitor(tmp_path / "data")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'monitor.db'}")
    again: subprocess.Popen[bytes] | None = None
    try:
        sent = int(asyncio.run(feed(run.broker, n, STORIES, seed=4))["sent"])
        assert sent == n
        incident_ids = flagged(n, seed=4)

        def applied() -> float:
            return metrics_value(run.worker_metrics, "monitor_inputs_total", kind="post")

        wait_for(lambda: applied() >= n // 10, 300, "the worker applying the flood", [run.proc])
        run.proc.send_signal(signal.SIGTERM)
        # the brief: stopped within 10 s of SIGTERM (it used to wait for ever on the records
        # its agents had taken but not acknowledged)
        assert run.proc.wait(10) == 0
        held = sum(r.state.heat.posts for r in store.incidents())
        # Accepted means archived: the flood is written straight into the embedded broker,
        # which keeps records in memory only, so a post the worker had not archived when it
        # stopped was never accepted and is gone with the broker (pushes through the
        # connectors are answered only once archived). A post is archived raw by the posts.raw
        # sink and, once classified, as the incident agent's input by another sink: at SIGTERM
        # either may be ahead, and either lets the restart apply it. It must apply every
        # archived post, once.
        archived = len(archived_posts(store) & incident_ids)
        assert held < archived, "stopped mid-flood: the restart has posts left to apply"

        again = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--data-dir", str(tmp_path / "data"),
             "--port", str(free_port()), "--worker-port", str(free_port()), "--no-demo"],
            stdout=(tmp_path / "run2.log").open("ab"), stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )  # fmt: skip
        wait_for(
            lambda: sum(r.state.heat.posts for r in store.incidents()) >= archived, 300,
            "every archived flood post in the store after the restart", [again],
        )  # fmt: skip
        rows = store.incidents()
    finally:
        store.close()
        for proc in (run.proc, again):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
    # none lost, none twice (how many incidents the stories make depends on the order posts
    # arrive in, which a restart changes: the first test checks the grouping)
    assert sum(r.state.heat.posts for r in rows) == archived
