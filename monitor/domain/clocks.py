"""Response clocks (DESIGN.md §1–§2): pure, driven by the time the caller passes in.

    evaluate(state, now) -> Outcome     fire every warning, breach and escalation due by `now`
    next_due(state) -> datetime | None  when evaluate next has something to do (for scheduling)
    refresh(state) -> IncidentState     recompute the readers' view of the clocks

Rules (frozen per incident in `state.policy`):
- Grades I/II run `release` (5 h), `press_conference` (24 h) and `follow_up` (every 24 h while
  open); III/IV run `answer` (48 h). A rule applies while the incident's grade is in its grades.
- A clock starts at the incident's first post (event time); with `start: reached_grade` the I/II
  clocks start when the incident reached grade II. An upgrade keeps the original start.
- Each warning (deadline − offset) and the breach (deadline) fires once; the fired ids are kept
  in `state.fired`, so a second call with the same `now` emits nothing. Every item is an event;
  of one clock's items firing in one call only the last is notified (after downtime the
  warnings that fell due together are stale, and a breach supersedes them).
- Items whose time passed before their rule applied (an upgrade late in the day) fire at once,
  stamped with the time the rule began to apply, never earlier.
- A clock stopped by an action emits nothing due after the stop; a clock already answered
  before its rule applied emits nothing at all. Breaches stay: they are facts.
- `follow_up` re-arms: each publication, or each missed deadline, starts the next cycle.
- Unacknowledged for `unacknowledged_after` (30 min) after opening → one escalation.
- Incidents outside the jurisdiction (`state.watch_only`) are shown but run no clocks.

Statuses readers see (`ClockView.status`; the constants below):
    running    open and unanswered
    met        answered at or before its deadline, before any breach fired
    late       answered after its deadline, or after its breach fired (a backdated answer
               entered after the breach is late, never met)
    breached   the deadline passed unanswered; stays breached after the incident closes
    not_done   the incident was closed before the deadline without an answer (closing never
               meets a clock)
    excluded   the incident was merged into another, which carries the clocks on; compliance
               figures skip these (the breach events stay in the event log)
A clock whose breach fired stays in view even if a regrade took its rule away.

Clock ids are f"{incident}:{rule}#{cycle}"; item ids extend them (see monitor/domain/events.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from monitor.domain.events import Event, EventKind
from monitor.domain.outbox import current_only
from monitor.domain.policy import ClockRule
from monitor.domain.state import ClockView, IncidentState, Outcome, Status

# Clock statuses, as ClockView.status (readers: dashboard, API, reports, compliance):
RUNNING = "running"  # open, no answer yet; its deadline may still be ahead
MET = "met"  # answered at or before the deadline, and no breach had fired
LATE = "late"  # answered, but after the deadline or after the breach fired
BREACHED = "breached"  # the deadline passed unanswered; stays so when the incident closes
NOT_DONE = "not_done"  # the incident closed before the deadline with no answer: not met
EXCLUDED = "excluded"  # the incident was merged away; the survivor carries its clocks on,
#                        so compliance must skip these (its breach events stay on record)
STATUSES = (RUNNING, MET, LATE, BREACHED, NOT_DONE, EXCLUDED)


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One thing that fires: a warning, a breach or the unacknowledged escalation."""

    id: str
    due: datetime
    at: datetime
    kind: EventKind
    clock: ClockView | None = None
    before_s: int = 0
    rollover: bool = False


def clock_id(incident_id: str, rule: str, cycle: int = 0) -> str:
    return f"{incident_id}:{rule}#{cycle}"


def applicable(state: IncidentState) -> tuple[ClockRule, ...]:
    if state.watch_only:
        return ()
    return tuple(r for r in state.policy.rules if state.grade in r.grades)


def _start(state: IncidentState, rule: ClockRule) -> datetime:
    if rule.severe and state.policy.start == "reached_grade" and state.severe_since is not None:
        return state.severe_since
    return state.first_seen


def _since(state: IncidentState, rule: ClockRule) -> datetime:
    return state.rule_since.get(rule.name, state.first_seen)


def view(state: IncidentState, rule: ClockRule) -> ClockView:
    start = _start(state, rule)
    cycle = state.follow_up_cycle if rule.repeat else 0
    anchor = (state.follow_up_anchor or start) if rule.repeat else start
    deadline = anchor + timedelta(seconds=rule.after_s)
    cid = clock_id(state.id, rule.name, cycle)
    stop = None if rule.repeat else state.stops.get(rule.name)
    stopped_at: datetime | None = stop.at if stop is not None else None
    if stop is None and not state.status.live:
        stopped_at = state.closed_at
    return ClockView(
        id=cid, rule=rule.name, label=rule.label, start=start, deadline=deadline,
        status=_status(state, cid, deadline, answered=stop is not None, stopped_at=stopped_at),
        stopped_at=stopped_at, cycle=cycle,
    )  # fmt: skip


def _status(
    state: IncidentState, cid: str, deadline: datetime, answered: bool, stopped_at: datetime | None
) -> str:
    """See STATUSES. A fired breach is permanent: no answer, backdated or not, and no close
    turns it into `met`."""
    if state.status is Status.MERGED:
        return EXCLUDED
    breached = f"{cid}:breach" in state.fired
    if answered:
        assert stopped_at is not None
        return LATE if breached or stopped_at > deadline else MET
    if breached:
        return BREACHED
    return RUNNING if state.status.live else NOT_DONE


def refresh(state: IncidentState) -> IncidentState:
    """Recompute what readers and the fast path see; every change to a clock input calls it.
    A clock that breached stays in view after a regrade took its rule away: breaches are facts."""
    running = applicable(state)
    fired = set(state.fired)
    gone = tuple(
        r for r in state.policy.rules
        if r not in running and not r.repeat and f"{clock_id(state.id, r.name)}:breach" in fired
    )  # fmt: skip
    views = tuple(view(state, r) for r in (*running, *gone))
    return msgspec.structs.replace(state, clocks=views, next_due_at=compute_next_due(state))


def _rule_items(state: IncidentState, rule: ClockRule) -> list[Item]:
    clock = view(state, rule)
    since = _since(state, rule)
    stop = state.stops.get(rule.name)
    if stop is not None and not rule.repeat and stop.at <= since:
        return []  # answered before the rule applied: nothing to warn about
    points = [(clock.deadline - timedelta(seconds=s), s) for s in rule.warnings_s]
    items = [
        Item(
            id=f"{clock.id}:warning:{s}s", due=due, at=max(due, since),
            kind=EventKind.DEADLINE_WARNING, clock=clock, before_s=s,
        )
        for due, s in points
    ]  # fmt: skip
    items.append(
        Item(
            id=f"{clock.id}:breach", due=clock.deadline, at=max(clock.deadline, since),
            kind=EventKind.DEADLINE_BREACHED, clock=clock, rollover=rule.repeat,
        )
    )  # fmt: skip
    if clock.stopped_at is not None:
        items = [i for i in items if i.due < clock.stopped_at]
    return items


def _unacknowledged_item(state: IncidentState) -> list[Item]:
    due = state.opened_at + timedelta(seconds=state.policy.unacknowledged_after_s)
    if state.acknowledged_at is not None and state.acknowledged_at <= due:
        return []
    return [Item(id=f"{state.id}:unacknowledged", due=due, at=due, kind=EventKind.UNACKNOWLEDGED)]


def pending(state: IncidentState) -> list[Item]:
    """Every item not yet fired on a live incident, due or not."""
    if not state.status.live or state.watch_only:
        return []
    items = _unacknowledged_item(state)
    for rule in applicable(state):
        items.extend(_rule_items(state, rule))
    fired = set(state.fired)
    return [i for i in items if i.id not in fired]


def next_due(state: IncidentState) -> datetime | None:
    """When evaluate next has something to fire (kept in state by `refresh`)."""
    return state.next_due_at


def compute_next_due(state: IncidentState) -> datetime | None:
    return min((i.due for i in pending(state)), default=None)


def evaluate(state: IncidentState, now: datetime) -> Outcome:
    """Fire everything due by `now`, in (time, due, id) order. Never reads a clock."""
    return _fire(state, lambda due: due <= now)


def catch_up(state: IncidentState, before: datetime) -> Outcome:
    """Fire what was due strictly before an action's time: an answer given exactly at its
    deadline is in time ("within 5 hours")."""
    return _fire(state, lambda due: due < before)


def _fire(state: IncidentState, is_due: Callable[[datetime], bool]) -> Outcome:
    if state.next_due_at is None or not is_due(state.next_due_at):
        return Outcome(state=state)  # the common case, without building any item
    fired: list[tuple[IncidentState, Event]] = []
    current = state
    while True:
        due = sorted(
            (i for i in pending(current) if is_due(i.due)), key=lambda i: (i.at, i.due, i.id)
        )
        if not due:
            break
        item = due[0]
        event = _event(current, item)
        # refreshed per item: its notification states the clocks as they were when it fired
        current = refresh(_mark_fired(current, item))
        fired.append((current, event))
    if not fired:
        return Outcome(state=state)
    # rev is left alone: it counts inputs, so ids built on it do not depend on how often the
    # edge ticked the clocks
    events = tuple(e for _, e in fired)
    return Outcome(state=current, events=events, notifications=current_only(fired))


def _mark_fired(state: IncidentState, item: Item) -> IncidentState:
    fired = (*state.fired, item.id)
    if item.rollover and item.clock is not None:
        # a missed follow-up starts the next cycle from the missed deadline
        return msgspec.structs.replace(
            state, fired=fired, follow_up_anchor=item.clock.deadline,
            follow_up_cycle=state.follow_up_cycle + 1,
        )  # fmt: skip
    return msgspec.structs.replace(state, fired=fired)


def _event(state: IncidentState, item: Item) -> Event:
    data: dict[str, object] = {"grade": state.grade.value, "due": item.due.isoformat()}
    if item.clock is not None:
        data |= {
            "clock": item.clock.id,
            "rule": item.clock.rule,
            "label": item.clock.label,
            "start": item.clock.start.isoformat(),
            "deadline": item.clock.deadline.isoformat(),
            "cycle": item.clock.cycle,
        }
        if item.kind is EventKind.DEADLINE_WARNING:
            data["before_s"] = item.before_s
    data["late"] = item.at > item.due
    return Event(id=item.id, kind=item.kind, incident_id=state.id, at=item.at, data=data)
