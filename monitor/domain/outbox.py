"""Notification intents for the outbox, derived from events: which step of the ladder, about
which incident and clock. Whom to tell is the escalation tree's alone
(monitor/domain/escalation.py, configured in the escalation YAML); the wording is the notifier's
(monitor/notify/message.py). Nothing here names a role.

    opened                      → step opened
    unacknowledged              → step unacknowledged (with the configured wait)
    deadline warning            → step warning (clock, deadline, minutes before)
    breach                      → step breach (clock, deadline)
    graded up to I/II           → step regraded
    outside the jurisdiction    → step opened only, marked `in_jurisdiction: false`

Each intent carries the incident's clocks as they stood when its step fired, so a message
about a grade I/II incident can state every clock's deadline without asking the read model
(which may not have the incident yet). The key is `notify:{event id}` and the content depends
only on the event and the state it came from, so a replay rebuilds the same intent under the
same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.domain.escalation import Step
from monitor.domain.events import ClockNote, Event, EventKind, NotificationIntent
from monitor.domain.model import Grade

if TYPE_CHECKING:
    from monitor.domain.state import IncidentState

_STEPS = {
    EventKind.OPENED: Step.OPENED,
    EventKind.UNACKNOWLEDGED: Step.UNACKNOWLEDGED,
    EventKind.DEADLINE_WARNING: Step.WARNING,
    EventKind.DEADLINE_BREACHED: Step.BREACH,
}


def place_text(state: IncidentState) -> str | None:
    loc = state.location
    parts = [p for p in (loc.city, loc.county, loc.town) if p]
    return "".join(parts) or None


def step_of(state: IncidentState, event: Event) -> Step | None:
    """The ladder step an event is, or None when it tells nobody."""
    if state.watch_only:
        # outside the jurisdiction: shown for awareness, no clocks, so nothing but the opening
        return Step.OPENED if event.kind is EventKind.OPENED else None
    step = _STEPS.get(event.kind)
    if step is not None:
        return step
    upgraded = event.kind is EventKind.GRADED and event.data.get("direction") == "up"
    if upgraded and state.grade in (Grade.I, Grade.II):
        return Step.REGRADED
    return None


def _minutes(seconds: object) -> int | None:
    return int(str(seconds)) // 60 if seconds is not None else None


def intent(state: IncidentState, event: Event, step: Step) -> NotificationIntent:
    deadline = event.data.get("deadline")
    unack = state.policy.unacknowledged_after_s if step is Step.UNACKNOWLEDGED else None
    return NotificationIntent(
        key=f"notify:{event.id}", event_id=event.id, incident_id=state.id, step=step,
        at=event.at, grade=state.grade, bodies=state.responsible.bodies, title=state.title,
        place=place_text(state), category=state.category,
        in_jurisdiction=not state.watch_only,
        clock=str(event.data["rule"]) if "rule" in event.data else None,
        clock_id=str(event.data["clock"]) if "clock" in event.data else None,
        clock_label=str(event.data["label"]) if "label" in event.data else None,
        deadline=datetime.fromisoformat(str(deadline)) if deadline else None,
        warning_before_min=_minutes(event.data.get("before_s")),
        clocks=tuple(
            ClockNote(rule=c.rule, label=c.label, deadline=c.deadline, status=c.status)
            for c in state.clocks
        ),
        unacknowledged_after_min=_minutes(unack),
    )  # fmt: skip


def intents_for(state: IncidentState, events: Sequence[Event]) -> tuple[NotificationIntent, ...]:
    out = []
    for event in events:
        step = step_of(state, event)
        if step is not None:
            out.append(intent(state, event, step))
    return tuple(out)


def current_only(fired: Sequence[tuple[IncidentState, Event]]) -> tuple[NotificationIntent, ...]:
    """Intents for items that fired together (one clock evaluation), each with the state just
    after it fired. Of one clock's warnings and breach only the last is told: after downtime
    the T-2h, T-1h and T-30min warnings fall due at once, and only the newest says something
    true now (a breach makes all of its warnings stale)."""
    last: dict[str, int] = {}
    for i, (_, event) in enumerate(fired):
        clock = event.data.get("clock")
        if clock is not None:
            last[str(clock)] = i
    kept = [
        (state, event) for i, (state, event) in enumerate(fired)
        if event.data.get("clock") is None or last[str(event.data["clock"])] == i
    ]  # fmt: skip
    return tuple(n for state, event in kept for n in intents_for(state, [event]))
