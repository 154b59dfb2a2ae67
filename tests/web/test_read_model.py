"""The web process's read model stays bounded however many posts an incident gets, and answers
(posts in all, gravest facts, heat, pages newest first) as a plain reading of the events does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.domain.events import Event, EventKind
from monitor.domain.incidents import assigned_id
from monitor.store import Store
from monitor.web.cache import MAX_LOGS, ReadModel

T0 = datetime(2026, 3, 1, 8, 3, 17, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'monitor.db'}")


def assigned(
    incident: str, n: int, start: int = 0, span: timedelta = timedelta(hours=1)
) -> list[Event]:
    """`n` posts spread over `span`; every 7th gives a death toll that grows with its number."""
    out = []
    for i in range(start, start + n):
        facts = {"deaths": i // 7, "injured": 3} if i % 7 == 0 else {}
        out.append(Event(
            id=assigned_id(incident, f"p{i:05d}"), kind=EventKind.ASSIGNED, incident_id=incident,
            at=T0 + span * ((i * 37) % 1000) / 1000,
            data={"post_id": f"p{i:05d}", "source": "weibo", "url": None, "casualties": facts},
        ))  # fmt: skip
    return out


def expected(events: list[Event]) -> dict[str, Any]:
    """What the answers must be, read straight off the events."""
    deaths = [e.data["casualties"]["deaths"] for e in events if e.data["casualties"]]
    times = sorted(e.at for e in events)
    step = timedelta(minutes=10)  # the span is under 6 hours
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    start = epoch + ((times[0] - epoch) // step) * step
    counts = Counter(int((t - start) / step) for t in times)
    newest = sorted(events, key=lambda e: (e.at, e.data["post_id"]), reverse=True)
    return {
        "total": len(events),
        "facts": {"deaths": max(deaths), "injured": 3},
        "series": [counts.get(i, 0) for i in range(max(counts) + 1)],
        "order": [e.data["post_id"] for e in newest],
    }


def held(model: ReadModel) -> int:
    """Entries the read model keeps for incidents' posts, across every incident it holds."""
    return sum(
        len(log.posts.slots) + len(log.moved_out) + sum(len(p) for _, p in log.split_in)
        for log in model._logs.values()
    )


def check(model: ReadModel, incident: str, events: list[Event]) -> None:
    want = expected(events)
    got = model.tally(incident)
    assert got.count == want["total"]
    assert got.facts == want["facts"]
    assert [b["posts"] for b in got.heat()["series"]] == want["series"]
    order: list[str] = []
    for number in range(1, 200):
        total, refs = model.page(incident, (), number, 50)
        assert total == want["total"]
        if not refs:
            break
        order += [r.post_id for r in refs]
    assert order == want["order"]


def test_an_incident_with_many_posts_is_held_in_space_its_time_span_sets(store: Store) -> None:
    model = ReadModel(store)
    events = assigned("inc-a", 300)
    store.record_events(events)
    check(model, "inc-a", events)
    first = held(model)
    assert first <= 7  # an hour from 08:03 touches seven 10-minute slots, whatever the posts

    more = assigned("inc-a", 3000, start=300)
    store.record_events(more)
    check(model, "inc-a", events + more)
    assert held(model) == first  # ten times the posts, not one entry more


def test_the_posts_split_out_and_merged_in_are_read_from_the_store(store: Store) -> None:
    model = ReadModel(store)
    a, b = assigned("inc-a", 40), assigned("inc-b", 30, start=100)
    moved = [e.data["post_id"] for e in a[:10]]
    split = [
        Event(id="inc-a:split:1", kind=EventKind.SPLIT, incident_id="inc-a", at=T0,
              data={"post_ids": moved}),
        Event(id="inc-c:opened", kind=EventKind.OPENED, incident_id="inc-c", at=T0,
              data={"split_from": "inc-a", "post_ids": moved}),
    ]  # fmt: skip
    store.record_events([*a, *b, *split])
    # inc-a, which lost ten posts, merged with inc-b
    assert sorted(r.post_id for r in model.members("inc-a", ("inc-b",))) == sorted(
        e.data["post_id"] for e in a[10:] + b
    )
    assert model.tally("inc-a", ("inc-b",)).count == 60
    assert sorted(r.post_id for r in model.members("inc-c")) == sorted(moved)
    total, refs = model.page("inc-c", (), 1, 5)
    assert total == 10 and [r.post_id for r in refs] == expected(a[:10])["order"][:5]


def test_the_least_recently_read_incidents_are_dropped(store: Store) -> None:
    model = ReadModel(store)
    for i in range(MAX_LOGS + 20):
        store.record_events(assigned(f"inc-{i}", 2))
        model.tally(f"inc-{i}")
    assert len(model._logs) == MAX_LOGS
    assert "inc-0" not in model._logs and f"inc-{MAX_LOGS + 19}" in model._logs
