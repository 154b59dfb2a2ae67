"""The member-id cache holds one set per incident, however often its members change."""

from __future__ import annotations

from datetime import UTC, datetime

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
