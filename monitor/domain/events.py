"""Records the incident domain emits: `Event` (the `incident.events` topic) and
`NotificationIntent` (the `notifications` outbox).

Both are decisions, not deeds: the streams layer publishes them, the notifier sends them.
Every id and key is derived from the inputs (incident id, clock id, post or action id), never
from a wall clock or a random number, so replaying the same inputs yields identical records and
a consumer can drop repeats by id.

Event ids:
    {incident}:opened                       {incident}:assigned:{post}
    {incident}:graded:{rev}                 {incident}:updated:{rev}
    {clock}:warning:{seconds}s              {clock}:breach     (clock = {incident}:{rule}#{cycle})
    {incident}:unacknowledged               {incident}:action:{action}
    {incident}:closed   {incident}:merged   {incident}:split:{action}
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec

from monitor.domain.escalation import Step
from monitor.domain.model import Grade


def utc(t: datetime) -> datetime:
    """Times are kept in UTC so that a state or event encoded as JSON or msgpack (which may
    keep or drop the offset) decodes to the same value and the same text."""
    return t.astimezone(UTC)


class EventKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    GRADED = "graded"
    ASSIGNED = "assigned"
    DEADLINE_WARNING = "deadline_warning"
    DEADLINE_BREACHED = "deadline_breached"
    UNACKNOWLEDGED = "unacknowledged"
    ACTION_RECORDED = "action_recorded"
    CLOSED = "closed"
    MERGED = "merged"
    SPLIT = "split"


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One fact about an incident. `at` is event time (inputs' time or a deadline), never now()."""

    id: str
    kind: EventKind
    incident_id: str
    at: datetime
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class ClockNote(msgspec.Struct, frozen=True, kw_only=True):
    """One of the incident's clocks as a notification states it, when it was decided.
    `status` is one of monitor.domain.clocks.STATUSES."""

    rule: str
    label: str
    deadline: datetime
    status: str


class NotificationIntent(msgspec.Struct, frozen=True, kw_only=True):
    """Which step of the ladder, about which incident and clock: never whom to tell (the
    escalation tree, monitor/domain/escalation.py, alone decides that) nor the wording
    (monitor/notify/message.py renders it when it is sent, with the time left then).

    `key` is the idempotency key: the same key always has the same content. `clock*`,
    `deadline` are set for warnings and breaches (`warning_before_min` for warnings); `clocks`
    are all the incident's clocks when the step fired; `unacknowledged_after_min` is the
    configured wait of an unacknowledged step.
    """

    key: str
    event_id: str
    incident_id: str
    step: Step
    at: datetime
    grade: Grade | None
    bodies: tuple[str, ...]
    title: str
    category: str | None = None
    place: str | None = None
    in_jurisdiction: bool = True
    clock: str | None = None  # rule name: release | press_conference | follow_up | answer
    clock_id: str | None = None
    clock_label: str | None = None
    deadline: datetime | None = None
    warning_before_min: int | None = None
    clocks: tuple[ClockNote, ...] = ()
    unacknowledged_after_min: int | None = None
