"""Bad input on every path: a clear reason in dlq, a metric, and the worker goes on."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from monitor.domain.state import Action
from monitor.runtime.broker import BundledBroker, free_port
from monitor.runtime.producer import send_all
from monitor.store import Store, sqlite_url
from monitor.topics import DeadLetter, Topic, topic
from streams.records import ActionRequest, encoder
from tests.integration.helpers import (
    FIRE,
    T0,
    feed,
    post,
    read_topic,
    start_worker,
    stop,
    wait_for,
)

pytestmark = pytest.mark.broker


def test_bad_records_go_to_dlq_and_the_worker_goes_on(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    db = sqlite_url(tmp_path / "monitor.db")
    port = free_port()
    worker = start_worker(broker.url, prefix, db, tmp_path / "worker.log", port=port)
    store = Store(db)
    naive = b'{"id": "n1", "text": "' + FIRE.encode() + b'", "published_at": "2026-05-01T08:00:00"}'
    # aware publication, naive observation: was a TypeError that stopped the incident agent
    mixed = (b'{"id": "m1", "text": "' + FIRE.encode() + b'", "published_at": '
             b'"2026-05-01T08:00:00+00:00", "observed_at": "2026-05-01T08:00:00"}')  # fmt: skip
    bad_posts = [(b"x", b"{not json"), (b"y", b'{"id": 5}'), (b"n1", naive), (b"m1", mixed)]
    ghost = Action(id="a-ghost", incident_id="no-such", kind="acknowledge", by="值班员", at=T0)
    bad_action = ActionRequest(key="5120:safety", action=ghost, recorded_at=T0)
    # a batch whose second post lacks its classification: that post alone is refused
    bad_batch = b'{"type":"posts","key":"5120:safety","items":[[1],{"type":"post","key":"k"}]}'
    try:
        asyncio.run(send_all(broker.url, topic(Topic.RAW, prefix), bad_posts))
        asyncio.run(send_all(broker.url, topic(Topic.ACTIONS, prefix),
                             [(b"5120:safety", encoder.encode(bad_action)), (b"k", b"[]")]))  # fmt: skip
        asyncio.run(send_all(broker.url, topic(Topic.CLASSIFIED, prefix), [(b"k", bad_batch)]))
        feed(broker.url, prefix, [post("ok1", FIRE, 1)])
        wait_for(lambda: len(store.incidents()) == 1, 60, "the good post's incident", [worker])
        dlq = topic(Topic.DLQ, prefix)
        wait_for(lambda: len(read_topic(broker.url, dlq, idle=0.5)) >= 8, 30, "dlq", [worker])
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        stop(worker)
    letters = [msgspec.convert(d, DeadLetter) for d in read_topic(broker.url, dlq)]
    reasons = [d.reason for d in letters]
    assert any(r.startswith("bad post") and "JSON" in r for r in reasons)
    assert any("$.id" in r for r in reasons), "a wrongly typed field is named with its path"
    assert any("time zone" in r for r in reasons), "a naive event time is refused, named"
    assert any("observed_at has no time zone" in r for r in reasons), "and a naive observation"
    assert any("unknown incident 'no-such'" in r for r in reasons)
    assert any(r.startswith("bad action") for r in reasons)
    in_batch = [r for r in reasons if r.startswith("bad input in batch")]
    assert len(in_batch) == 2 and "$.items[1]" in in_batch[1] and "`post`" in in_batch[1]
    assert all(d.raw and d.source in {t.value for t in Topic} for d in letters)
    assert 'monitor_dead_letters_total{reason="bad post",topic=' in metrics
    assert page.status_code == 404  # a worker serves /metrics only; `monitor web` the dashboard
    state = store.incidents()[0].state
    assert state.post_ids == ("ok1",)
    assert state.first_seen == T0 + timedelta(minutes=1)
    store.close()
