"""The member-id cache holds one set per incident, however often its members change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.domain import state
from monitor.domain.state import Member, member_ids

T = datetime(2026, 5, 1, tzinfo=UTC)


def _member(i: int) -> Member:
    return Member(f"p{i}", T, 0, False, None)


def test_a_growing_incident_keeps_one_cache_entry() -> None:
    members: tuple[Member, ...] = ()
    for i in range(300):
        members = (*members, _member(i))  # as add_post does below max_members: a new tuple
        assert member_ids("inc-grow", members) == {f"p{j}" for j in range(i + 1)}
    assert [k for k in state._MEMBER_IDS if k == "inc-grow"] == ["inc-grow"]
    assert state._MEMBER_IDS["inc-grow"][0] is members


def test_a_changed_tuple_is_never_answered_from_the_old_entry() -> None:
    first = (_member(1), _member(2))
    assert member_ids("inc-split", first) == {"p1", "p2"}
    after_split = (_member(2),)
    assert member_ids("inc-split", after_split) == {"p2"}
    assert member_ids("inc-split", first) == {"p1", "p2"}


def test_the_cache_is_bounded_by_the_ids_it_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "_MEMBER_IDS", {})
    monkeypatch.setattr(state, "_member_ids_held", 0)
    monkeypatch.setattr(state, "_MEMBER_IDS_BUDGET", 50)
    tuples = {f"inc-{n}": tuple(_member(100 * n + i) for i in range(10)) for n in range(20)}
    for incident, members in tuples.items():
        assert member_ids(incident, members) == {m.post_id for m in members}
    assert sum(len(ids) for _, ids in state._MEMBER_IDS.values()) == state._member_ids_held
    assert state._member_ids_held <= 50
    assert list(state._MEMBER_IDS) == [f"inc-{n}" for n in range(15, 20)]  # the newest kept
    member_ids("inc-15", tuples["inc-15"])  # a hit makes it the newest
    member_ids("inc-0", tuples["inc-0"])  # evicts the oldest, now inc-16
    assert "inc-15" in state._MEMBER_IDS and "inc-16" not in state._MEMBER_IDS
