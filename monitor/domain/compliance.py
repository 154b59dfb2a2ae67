"""Response compliance per department and per county (issue 12): pure, time is an argument.

    case = case_of(state, events, now)           one incident as the figures see it
    verdicts(case) -> (Verdict, ...)             its clocks' verdicts (an incident's report)
    report = compliance(cases, Period(start, end), now, body=None)

The figures come from what the incident's log records, never from a tally kept on the side:
its actions with their own times (`state.actions`: acknowledge, release, press conference),
its clocks as the domain judged them (`ClockView.status`, see monitor/domain/clocks.py) and
its `deadline_breached` events. A replay that rebuilds the same states and events gives the
same figures.

Definitions (the report states them to its readers too):
- An incident belongs to the period its first post falls in (start ≤ first_seen < end).
- Merged-away incidents (the survivor carries their clocks on: status `excluded`) and
  incidents outside the jurisdiction (no clocks run) are left out, and counted.
- Time to acknowledge, to first release and to press conference run from the first post (the
  clocks' start) to the earliest such action's `at`; acknowledging counts any first answer, as
  the domain does (`acknowledged_at`).
- median: the middle value, or the mean of the two middle ones; p90: nearest rank, the
  ⌈0.9·n⌉-th smallest value.
- A rate (release within 5 h, press conference within 24 h, answer within 48 h for III/IV) is
  met / decided over that rule's clocks, decided = met + late + breached + not_done. A running
  clock is pending and not counted; one closed unanswered (`not_done`) counts as not met,
  because closing never meets a clock.
- A department's figures cover the incidents it is responsible for (lead or co-responsible);
  a county's, the incidents placed in it.
- A breach is every `deadline_breached` event; how late runs from its deadline to the answer
  that stopped the rule (a backdated answer may be timed before it: then 0), or, unanswered,
  to when the incident closed, or to `now`.
- The previous period ends where this one starts: the month before for a calendar month,
  else one of the same length.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import msgspec

from monitor.domain import clocks
from monitor.domain.events import Event, EventKind
from monitor.domain.model import Grade
from monitor.domain.policy import SEVERE
from monitor.domain.state import IncidentState, Status

# The rules whose compliance is reported, in the report's order (names as in ClockPolicy).
RATE_RULES = ("release", "press_conference", "answer")
DECIDED = (clocks.MET, clocks.LATE, clocks.BREACHED, clocks.NOT_DONE)
NO_COUNTY = "市级（未定到县区）"  # an incident placed in the city but no county


class Period(msgspec.Struct, frozen=True):
    """[start, end): both zone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's start and end need a time zone")
        if self.end <= self.start:
            raise ValueError(
                f"period ends ({self.end.isoformat()}) at or before it starts "
                f"({self.start.isoformat()})"
            )

    def holds(self, t: datetime) -> bool:
        return self.start <= t < self.end

    @property
    def previous(self) -> Period:
        return Period(self.start - (self.end - self.start), self.start)


class ClockFact(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    rule: str
    label: str
    after_s: int
    deadline: datetime
    status: str  # monitor.domain.clocks.STATUSES
    stopped_at: datetime | None = None


class Breach(msgspec.Struct, frozen=True, kw_only=True):
    incident_id: str
    title: str
    grade: str
    bodies: tuple[str, ...]
    county: str
    clock_id: str
    rule: str
    label: str
    deadline: datetime
    answered_at: datetime | None  # None: never answered
    late_s: int
    open: bool  # unanswered and the incident still open: late_s grows until `now`


class Case(msgspec.Struct, frozen=True, kw_only=True):
    """One incident, reduced to what the figures need."""

    id: str
    title: str
    grade: Grade
    bodies: tuple[str, ...]
    county: str
    first_seen: datetime
    live: bool
    merged: bool
    out_of_area: bool
    acknowledged_at: datetime | None
    first_release_at: datetime | None
    press_conference_at: datetime | None
    next_deadline: datetime | None
    clocks: tuple[ClockFact, ...]
    breaches: tuple[Breach, ...]

    @property
    def excluded(self) -> bool:
        return self.merged or self.out_of_area


def _first(state: IncidentState, kind: str) -> datetime | None:
    return min((a.at for a in state.actions if a.kind == kind), default=None)


def case_of(state: IncidentState, events: Iterable[Event], now: datetime) -> Case:
    """`events`: the incident's events (others are ignored); only breaches are read."""
    county = state.location.county or NO_COUNTY
    rules = {r.name: r for r in state.policy.rules}
    facts = tuple(
        ClockFact(
            id=c.id, rule=c.rule, label=c.label, deadline=c.deadline, status=c.status,
            stopped_at=c.stopped_at,
            after_s=rules[c.rule].after_s if c.rule in rules else int(
                (c.deadline - c.start).total_seconds()),
        )
        for c in state.clocks
    )  # fmt: skip
    breaches = tuple(
        _breach(state, e, county, now)
        for e in events
        if e.kind is EventKind.DEADLINE_BREACHED and e.incident_id == state.id
    )
    waiting = [c.deadline for c in state.clocks if c.status in (clocks.RUNNING, clocks.BREACHED)]
    return Case(
        id=state.id, title=state.title, grade=state.grade, bodies=state.responsible.bodies,
        county=county, first_seen=state.first_seen, live=state.status.live,
        merged=state.status is Status.MERGED, out_of_area=state.watch_only,
        acknowledged_at=state.acknowledged_at, first_release_at=_first(state, "release"),
        press_conference_at=_first(state, "press_conference"),
        next_deadline=min(waiting) if waiting and state.status.live else None,
        clocks=facts, breaches=tuple(sorted(breaches, key=lambda b: (b.deadline, b.clock_id))),
    )  # fmt: skip


def _breach(state: IncidentState, event: Event, county: str, now: datetime) -> Breach:
    rule_name = str(event.data.get("rule", ""))
    deadline = datetime.fromisoformat(str(event.data.get("deadline", event.at.isoformat())))
    answered = _answer(state, rule_name, deadline)
    if answered is not None:
        end, still_open = answered, False
    elif state.status.live:
        end, still_open = now, True
    else:
        end, still_open = state.closed_at or now, False
    return Breach(
        incident_id=state.id, title=state.title, grade=state.grade.value,
        bodies=state.responsible.bodies, county=county, clock_id=str(event.data.get("clock", "")),
        rule=rule_name, label=str(event.data.get("label", rule_name)), deadline=deadline,
        answered_at=answered, late_s=max(0, int((end - deadline).total_seconds())),
        open=still_open,
    )  # fmt: skip


def _answer(state: IncidentState, rule_name: str, deadline: datetime) -> datetime | None:
    """What answered a breached clock: a one-off rule's stop; for a repeating rule (follow-up)
    the first publication at or after the missed deadline."""
    rule = next((r for r in state.policy.rules if r.name == rule_name), None)
    if rule is None:
        return None
    if not rule.repeat:
        stop = state.stops.get(rule.name)
        return stop.at if stop is not None else None
    return min(
        (a.at for a in state.actions if a.kind in rule.stopped_by and a.at >= deadline),
        default=None,
    )


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """One clock's verdict, for an incident's own report (the replay sandbox's incidents.json):
    its status (clocks.STATUSES), when it was answered, and how late (0 when in time)."""

    clock_id: str
    rule: str
    label: str
    deadline: datetime
    status: str
    answered_at: datetime | None
    late_s: int


def verdicts(case: Case) -> tuple[Verdict, ...]:
    """Every clock in view, and every breached one (a missed follow-up cycle included)."""
    out = [
        Verdict(
            clock_id=f.id, rule=f.rule, label=f.label, deadline=f.deadline, status=f.status,
            answered_at=f.stopped_at if f.status in (clocks.MET, clocks.LATE) else None,
            late_s=_late(f, case.breaches),
        )
        for f in case.clocks
    ]  # fmt: skip
    seen = {v.clock_id for v in out}
    out += [
        Verdict(
            clock_id=b.clock_id, rule=b.rule, label=b.label, deadline=b.deadline,
            status=clocks.LATE if b.answered_at is not None else clocks.BREACHED,
            answered_at=b.answered_at, late_s=b.late_s,
        )
        for b in case.breaches
        if b.clock_id not in seen
    ]  # fmt: skip
    return tuple(sorted(out, key=lambda v: (v.deadline, v.clock_id)))


def _late(fact: ClockFact, breaches: Sequence[Breach]) -> int:
    for b in breaches:
        if b.clock_id == fact.id:
            return b.late_s
    if fact.status == clocks.LATE and fact.stopped_at is not None:
        return max(0, int((fact.stopped_at - fact.deadline).total_seconds()))
    return 0


# --- figures ---------------------------------------------------------------------------------


class Durations(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds from the first post; None when there is nothing to measure."""

    count: int
    median_s: float | None
    p90_s: float | None


class Rate(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    label: str
    hours: float  # the rule's limit, from the incidents' frozen policy
    met: int
    late: int
    breached: int
    not_done: int
    pending: int

    @property
    def decided(self) -> int:
        return self.met + self.late + self.breached + self.not_done

    @property
    def rate(self) -> float | None:
        return self.met / self.decided if self.decided else None


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    incidents: int
    by_grade: dict[str, int]
    acknowledge: Durations
    release: Durations
    press_conference: Durations
    rates: tuple[Rate, ...]  # RATE_RULES, in order
    breaches: int

    def rate(self, rule: str) -> Rate:
        return next(r for r in self.rates if r.rule == rule)


class Group(msgspec.Struct, frozen=True, kw_only=True):
    """A department's or county's figures in the period, and in the previous one."""

    name: str
    current: Figures
    previous: Figures


class Excluded(msgspec.Struct, frozen=True, kw_only=True):
    merged: int
    out_of_area: int


class OpenCase(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    grade: str
    bodies: tuple[str, ...]
    county: str
    first_seen: datetime
    next_deadline: datetime | None
    breached: tuple[str, ...]  # rule labels of clocks breached and still unanswered


class Report(msgspec.Struct, frozen=True, kw_only=True):
    period: Period
    previous_period: Period
    now: datetime
    body: str | None
    total: Group
    departments: tuple[Group, ...]
    counties: tuple[Group, ...]
    breaches: tuple[Breach, ...]
    excluded: Excluded
    previous_excluded: Excluded
    open_severe: tuple[OpenCase, ...]  # grade I/II open at `now`, whatever period they began in


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the ⌈0.9·n⌉-th smallest, a value that occurred."""
    if not values:
        return None
    s = sorted(values)
    return float(s[math.ceil(0.9 * len(s)) - 1])


STEPS: dict[str, Callable[[Case], datetime | None]] = {
    "acknowledge": lambda c: c.acknowledged_at,
    "release": lambda c: c.first_release_at,
    "press_conference": lambda c: c.press_conference_at,
}


def seconds_to(cases: Sequence[Case], step: str) -> list[float]:
    """Seconds from the first post to `step` (a key of STEPS), for the cases that took it."""
    at = STEPS[step]
    return [(t - c.first_seen).total_seconds() for c in cases if (t := at(c)) is not None]


def durations(cases: Sequence[Case], step: str) -> Durations:
    values = seconds_to(cases, step)
    return Durations(count=len(values), median_s=median(values), p90_s=p90(values))


def _rate(cases: Sequence[Case], rule: str) -> Rate:
    facts = [f for c in cases for f in c.clocks if f.rule == rule]
    count = {s: sum(1 for f in facts if f.status == s) for s in clocks.STATUSES}
    return Rate(
        rule=rule, label=facts[0].label if facts else rule,
        hours=facts[0].after_s / 3600 if facts else 0.0,
        met=count[clocks.MET], late=count[clocks.LATE], breached=count[clocks.BREACHED],
        not_done=count[clocks.NOT_DONE], pending=count[clocks.RUNNING],
    )  # fmt: skip


def figures(cases: Sequence[Case]) -> Figures:
    """Figures over `cases`, which must already be the counted ones (not excluded)."""
    return Figures(
        incidents=len(cases),
        by_grade={g.value: sum(1 for c in cases if c.grade is g) for g in Grade},
        acknowledge=durations(cases, "acknowledge"),
        release=durations(cases, "release"),
        press_conference=durations(cases, "press_conference"),
        rates=tuple(_rate(cases, r) for r in RATE_RULES),
        breaches=sum(len(c.breaches) for c in cases),
    )


def counted(cases: Iterable[Case], period: Period) -> tuple[list[Case], Excluded]:
    """The cases of `period` that count, and how many were left out and why."""
    inside = [c for c in cases if period.holds(c.first_seen)]
    excluded = Excluded(
        merged=sum(1 for c in inside if c.merged),
        out_of_area=sum(1 for c in inside if c.out_of_area and not c.merged),
    )
    return [c for c in inside if not c.excluded], excluded


def _groups(
    current: Sequence[Case],
    previous: Sequence[Case],
    keys: Callable[[Case], Iterable[str]],
    only: str | None = None,
) -> tuple[Group, ...]:
    names = {k for c in (*current, *previous) for k in keys(c)}
    if only is not None:
        names &= {only}
    groups = [
        Group(
            name=n,
            current=figures([c for c in current if n in keys(c)]),
            previous=figures([c for c in previous if n in keys(c)]),
        )
        for n in names
    ]
    return tuple(sorted(groups, key=lambda g: (-g.current.incidents, -g.previous.incidents,
                                               g.name)))  # fmt: skip


def compliance(
    cases: Iterable[Case],
    period: Period,
    now: datetime,
    body: str | None = None,
    previous_period: Period | None = None,
) -> Report:
    """The report over `period`, as of `now`. `body`: only the incidents that body is
    responsible for, and only its own row among the departments. `previous_period`: what to
    compare with (a calendar month's is the month before); by default `period.previous`."""
    before = previous_period or period.previous
    every = [c for c in cases if body is None or body in c.bodies]
    current, excluded = counted(every, period)
    previous, previous_excluded = counted(every, before)
    breaches = sorted((b for c in current for b in c.breaches),
                      key=lambda b: (b.deadline, b.incident_id, b.clock_id))  # fmt: skip
    open_severe = sorted(
        (c for c in every if c.live and not c.out_of_area and c.grade in SEVERE),
        key=lambda c: (c.next_deadline or c.first_seen, -c.grade.rank, c.id),
    )
    return Report(
        period=period, previous_period=before, now=now, body=body,
        total=Group(name="合计", current=figures(current), previous=figures(previous)),
        departments=_groups(current, previous, lambda c: c.bodies, body),
        counties=_groups(current, previous, lambda c: (c.county,)),
        breaches=tuple(breaches), excluded=excluded, previous_excluded=previous_excluded,
        open_severe=tuple(_open(c) for c in open_severe),
    )  # fmt: skip


def _open(c: Case) -> OpenCase:
    return OpenCase(
        id=c.id, title=c.title, grade=c.grade.value, bodies=c.bodies, county=c.county,
        first_seen=c.first_seen, next_deadline=c.next_deadline,
        breached=tuple(f.label for f in c.clocks if f.status == clocks.BREACHED),
    )  # fmt: skip
