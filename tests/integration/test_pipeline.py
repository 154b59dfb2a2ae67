"""The whole pipeline on the real bundled broker, with a worker process and a SQLite store."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.domain.state import Action
from monitor.runtime.actions import record_action
from monitor.runtime.broker import BundledBroker
from monitor.runtime.producer import send_all
from monitor.store import Store, sqlite_url
from monitor.topics import Topic, topic
from streams.records import encoder
from tests.integration.helpers import (
    BLAST,
    SCHOOL,
    T0,
    feed,
    post,
    read_topic,
    start_worker,
    stop,
    three_incidents,
    tick,
    wait_for,
)  # fmt: skip

pytestmark = pytest.mark.broker


def test_three_concurrent_incidents(broker: BundledBroker, prefix: str, tmp_path: Path) -> None:
    db = sqlite_url(tmp_path / "monitor.db")
    worker = start_worker(broker.url, prefix, db, tmp_path / "worker.log")
    store = Store(db)
    try:
        feed(broker.url, prefix, three_incidents())
        wait_for(
            lambda: sum(r.state.heat.posts for r in store.incidents()) == 6, 90, "6 posts", [worker]
        )
        # event time moves past 5 h: the grade II blast has no release, so it breaches
        tick(broker.url, prefix, T0 + timedelta(hours=5, minutes=1))
        wait_for(
            lambda: any(e["kind"] == "deadline_breached" for e in store.events_of()),
            60,
            "breach",
            [worker],
        )
    finally:
        stop(worker)
    rows = {r.state.title[:6]: r.state for r in store.incidents()}
    assert len(rows) == 3, list(rows)
    blast = next(s for s in rows.values() if s.category == "work_safety")
    school = next(s for s in rows.values() if s.category == "food_drug")
    fire = next(s for s in rows.values() if s.category == "fire")
    assert blast.grade.value == "II" and blast.heat.posts == 3
    assert "市应急管理局" in blast.responsible.bodies
    assert "雁江区人民政府" in blast.responsible.bodies
    assert school.grade.value == "III" and school.heat.posts == 2
    assert fire.grade.value == "IV" and fire.heat.posts == 1
    kinds = [(e["incident_id"], e["kind"]) for e in store.events_of()]
    assert (blast.id, "deadline_breached") in kinds
    assert sum(1 for i, k in kinds if k == "opened") == 3
    # III/IV run the 48 h answer clock: nothing breaches for them at 5 h
    assert (school.id, "deadline_breached") not in kinds
    intents = read_topic(broker.url, topic(Topic.NOTIFICATIONS, prefix))
    assert {(n["incident_id"], n["step"]) for n in intents} >= {(blast.id, "opened")}, (
        "opening an incident notifies duty staff"
    )
    events = read_topic(broker.url, topic(Topic.EVENTS, prefix))
    assert {e["id"] for e in events} == {e["id"] for e in store.events_of()}
    store.close()


def test_a_merge_across_category_families(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    """The school incident (health) is merged into the blast (safety): two keys, two Table
    entries, so the source's half and the target's half run on their own partitions."""
    db = sqlite_url(tmp_path / "monitor.db")
    worker = start_worker(broker.url, prefix, db, tmp_path / "worker.log")
    store = Store(db)
    try:
        feed(broker.url, prefix, [post("b1", BLAST, 0), post("s1", SCHOOL, 3)])
        wait_for(lambda: len(store.incidents()) == 2, 90, "two incidents", [worker])
        rows = {r.state.post_ids[0]: r for r in store.incidents()}
        src, dst = rows["s1"], rows["b1"]
        assert src.key != dst.key
        merge = Action(id="m1", incident_id=src.id, kind="merge", target=dst.id, by="值班员",
                       at=T0 + timedelta(minutes=30), reason="同一事件")  # fmt: skip
        req = record_action(store, merge, T0 + timedelta(minutes=31)).request
        assert req.target_key == dst.key
        asyncio.run(
            send_all(broker.url, topic(Topic.ACTIONS, prefix), [(req.key.encode(), encoder.encode(req))])
        )
        merged = lambda: (store.incident(dst.id).state.merged_from == (src.id,)  # noqa: E731
                          and store.incident(src.id).state.status == "merged")  # fmt: skip
        wait_for(merged, 60, "the merge on both sides", [worker])
        feed(broker.url, prefix, [post("s2", "转发：" + SCHOOL, 40, repost_of="s1")])
        wait_for(lambda: "s2" in store.incident(dst.id).state.post_ids, 60, "the repost", [worker])
    finally:
        stop(worker)
    assert set(store.incident(dst.id).state.post_ids) == {"b1", "s1", "s2"}
    assert "s2" not in store.incident(src.id).state.post_ids
    inputs = [r for r in store.archived() if r.kind == "input" and r.id == "post:s2"]
    assert [r.key for r in inputs] == [src.key], "archived once, as it first arrived"
    store.close()
