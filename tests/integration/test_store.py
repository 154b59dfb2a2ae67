"""The store on SQLite and on the machine's PostgreSQL: idempotent by id, newest revision wins.
(Notifications have their own outbox, tested in tests/notify.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.domain import clocks
from monitor.store import Store, sqlite_url
from tests.integration.helpers import BLAST, FIRE, T0, opened, post


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        s = Store(sqlite_url(tmp_path / "monitor.db"))
    else:
        s = Store(request.getfixturevalue("pg_url"))
    request.addfinalizer(s.close)
    return s


def test_archive_is_idempotent_and_ordered(store: Store) -> None:
    assert store.archive("post", "p1", b'{"id":"p1"}', now=T0)
    assert store.archive("action", "a1", b'{"id":"a1"}', key="k", now=T0)
    assert not store.archive("post", "p1", b'{"id":"p1"}', now=T0)
    assert store.archive_many([("post", "p2", b"{}", None), ("post", "p1", b"{}", None)]) == 1
    rows = list(store.archived())
    assert [(r.kind, r.id) for r in rows] == [("post", "p1"), ("action", "a1"), ("post", "p2")]
    assert rows[0].seq < rows[1].seq < rows[2].seq
    assert [r.id for r in store.archived(after_seq=rows[1].seq)] == ["p2"]


def test_read_model_keeps_newest_revision(store: Store) -> None:
    first = opened(post("b1", BLAST)).state
    later = clocks.evaluate(first, T0.replace(hour=14)).state  # past 5 h: the release breaches
    assert len(later.fired) > len(first.fired)  # rev counts inputs only; firings add to fired
    store.save_states([later])
    store.save_states([first])  # a stale redelivery must not roll the incident back
    row = store.incident(first.id)
    assert row is not None and row.state == later
    assert [r.id for r in store.incidents()] == [first.id]


def test_events_are_idempotent(store: Store) -> None:
    out = opened(post("f1", FIRE))
    assert out.events
    assert store.record_events(out.events) == len(out.events)
    assert store.record_events(out.events) == 0
    assert [e["id"] for e in store.events_of()] == [e.id for e in out.events]


def test_audit_log(store: Store) -> None:
    store.audit("张三", "release", "inc-1", {"url": "https://example.gov.cn/1"}, now=T0)
    rows = store.audit_rows()
    assert rows[-1]["who"] == "张三" and rows[-1]["incident_id"] == "inc-1"
