"""Replay determinism and a release at 4 h 10 min, on the real bundled broker."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.domain.state import Action
from monitor.runtime.broker import BundledBroker
from monitor.runtime.producer import replay_records, send_all
from monitor.store import Store, sqlite_url
from monitor.topics import Topic, topic
from streams.records import ActionRequest, encoder
from tests.integration.helpers import (
    T0,
    feed,
    read_topic,
    start_worker,
    stop,
    three_incidents,
    tick,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def by_incident(events: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    """incident.events is keyed by incident: order is defined within an incident only."""
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in events:
        out[str(e["incident_id"])].append(e)
    return dict(out)


def live_run(broker: BundledBroker, prefix: str, tmp: Path) -> tuple[Store, list[dict[str, object]]]:
    db = sqlite_url(tmp / f"{prefix}.db")
    worker = start_worker(broker.url, prefix, db, tmp / f"{prefix}.log")
    store = Store(db)
    try:
        feed(broker.url, prefix, three_incidents())
        wait_for(lambda: sum(r.state.heat.posts for r in store.incidents()) == 6, 90, "posts",
                 [worker])  # fmt: skip
        blast = next(r for r in store.incidents() if r.state.category == "work_safety")
        release = Action(
            id="rel-1", incident_id=blast.id, kind="release", by="市应急管理局",
            at=T0 + timedelta(hours=4, minutes=10), url="https://www.ziyang.gov.cn/xxgk/1",
            channel="政府网站",
        )  # fmt: skip
        req = ActionRequest(key=blast.key, action=release, recorded_at=T0 + timedelta(hours=4, minutes=20))
        asyncio.run(send_all(broker.url, topic(Topic.ACTIONS, prefix), [(blast.key.encode(), encoder.encode(req))]))
        wait_for(lambda: _has(store, "action_recorded"), 60, "release recorded", [worker])
        tick(broker.url, prefix, T0 + timedelta(hours=21))
        wait_for(lambda: _has(store, "deadline_warning", "press_conference"), 60, "21 h tick (press conference T-4h warning)", [worker])
        wait_for(lambda: len(list(store.archived())) >= 7, 30, "inputs archived", [worker])
    finally:
        stop(worker)
    return store, read_topic(broker.url, topic(Topic.EVENTS, prefix))


def _has(store: Store, kind: str, rule: str | None = None) -> bool:
    return any(
        e["kind"] == kind and (rule is None or e["data"].get("rule") == rule)  # type: ignore[union-attr]
        for e in store.events_of()
    )


def replay(broker: BundledBroker, prefix: str, tmp: Path, store: Store) -> list[dict[str, object]]:
    db = sqlite_url(tmp / f"{prefix}.db")
    worker = start_worker(broker.url, prefix, db, tmp / f"{prefix}.log")
    target = Store(db)
    try:
        records = replay_records(store.archived(), load_config())
        asyncio.run(send_all(broker.url, topic(Topic.CLASSIFIED, prefix), records))
        tick(broker.url, prefix, T0 + timedelta(hours=21))
        wait_for(lambda: _has(target, "deadline_warning", "press_conference"), 60, "replayed",
                 [worker])  # fmt: skip
    finally:
        stop(worker)
        target.close()
    return read_topic(broker.url, topic(Topic.EVENTS, prefix))


def test_release_at_4h10_and_replays_are_identical(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    store, live = live_run(broker, f"{prefix}live", tmp_path)
    blast = next(r.state for r in store.incidents() if r.state.category == "work_safety")
    kinds = [(e["kind"], e["data"].get("rule")) for e in by_incident(live)[blast.id]]  # type: ignore[union-attr]
    assert ("deadline_warning", "release") in kinds  # T-2h and T-1h came before 4 h 10 min
    assert ("deadline_breached", "release") not in kinds  # the release stopped the 5 h clock
    release_clock = next(c for c in blast.clocks if c.rule == "release")
    assert release_clock.status == "met"
    first = replay(broker, f"{prefix}r1", tmp_path, store)
    second = replay(broker, f"{prefix}r2", tmp_path, store)
    assert by_incident(first) == by_incident(second)
    assert by_incident(first) == by_incident(live)
    store.close()
