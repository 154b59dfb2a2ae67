"""monitor.domain.compliance, pure: the statistics, periods, who may read whose figures, and
each incident's verdicts. The month-long figures are tested against a fixture log in
tests/reports/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.domain import clocks
from monitor.domain.compliance import Period, Report, case_of, compliance, median, p90, verdicts
from monitor.domain.permissions import UserRole, report_scope
from tests.reports.fixture import SPECS, T0, build

H = 3600


@pytest.mark.parametrize(
    ("values", "mid", "ninety"),
    [
        ([], None, None),
        ([7], 7, 7),
        ([3, 1], 2, 3),  # the mean of the two middle ones; p90 = ⌈1.8⌉ = 2nd
        ([5, 1, 3], 3, 5),
        (list(range(1, 11)), 5.5, 9),  # ⌈9⌉ = 9th of 10
        (list(range(1, 12)), 6, 10),  # ⌈9.9⌉ = 10th of 11
    ],
)  # fmt: skip
def test_median_and_nearest_rank_p90(values: list[int], mid: float, ninety: float) -> None:
    assert median(values) == mid
    assert p90(values) == ninety


def test_a_period_needs_zones_and_an_end_after_its_start() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Period(T0.replace(tzinfo=None), T0 + timedelta(days=1))
    with pytest.raises(ValueError, match="at or before it starts"):
        Period(T0, T0)
    p = Period(T0, T0 + timedelta(days=30))
    assert p.previous == Period(T0 - timedelta(days=30), T0)
    assert p.holds(T0) and not p.holds(T0 + timedelta(days=30))


@pytest.mark.parametrize(
    ("role", "body", "asked", "scope", "refused"),
    [
        (UserRole.LEADER, None, None, None, False),
        (UserRole.LEADER, None, "市应急管理局", "市应急管理局", False),
        (UserRole.DUTY, None, "市应急管理局", "市应急管理局", False),
        (UserRole.DEPARTMENT, "市应急管理局", None, "市应急管理局", False),
        (UserRole.DEPARTMENT, "市应急管理局", "市应急管理局", "市应急管理局", False),
        (UserRole.DEPARTMENT, "市应急管理局", "市消防救援支队", None, True),
    ],
)  # fmt: skip
def test_report_scope(
    role: UserRole, body: str | None, asked: str | None, scope: str | None, refused: bool
) -> None:
    got, refusal = report_scope(role, body, asked)
    assert got == scope and (refusal is not None) == refused


def test_verdicts_of_an_incident() -> None:
    built = build()
    now = built.at(60 * 24)
    b = case_of(built.states["B"], built.events, now)
    got = {v.rule: (v.status, v.late_s) for v in verdicts(b)}
    spec = {s.name: s for s in SPECS}["B"]
    acts = dict(spec.acts)
    assert got["release"] == (clocks.LATE, int((acts["release"] - 5) * H))
    assert got["press_conference"] == (clocks.LATE, int((acts["press_conference"] - 24) * H))
    assert got["follow_up"][0] == clocks.NOT_DONE  # closed at 40 h with a cycle running
    a = case_of(built.states["A"], built.events, now)
    assert {v.status for v in verdicts(a) if v.rule != "follow_up"} == {clocks.MET}


def test_time_is_an_argument() -> None:
    """The same log gives the same report for the same `now`; an open breach grows with it."""
    built = build(until=60 * 24)
    period = Period(T0, T0 + timedelta(days=61))

    def report(days: float) -> Report:
        now = T0 + timedelta(days=days)
        return compliance([case_of(s, built.events, now) for s in built.states.values()],
                          period, now)  # fmt: skip

    assert report(60) == report(60)
    late = {b.clock_id: b.late_s for b in report(61).breaches if b.open}
    earlier = {b.clock_id: b.late_s for b in report(60).breaches if b.open}
    assert late and all(late[k] - earlier[k] == 24 * H for k in earlier)
