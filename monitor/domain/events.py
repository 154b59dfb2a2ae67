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


class Step(StrEnum):
    """Where on the escalation ladder (DESIGN.md §2) a notification stands.

    Values equal monitor.domain.escalation.Step's, so `escalation.Step(intent.step)` converts.
    """

    OPENED = "opened"
    UNACKNOWLEDGED = "unacknowledged"
    WARNING = "warning"
    BREACH = "breach"
    REGRADED = "regraded"
    RECORD_REFUSED = "record_refused"  # the pipeline could not handle an input (streams/)


class Role(StrEnum):
    """Values equal monitor.domain.escalation.Role's."""

    DUTY_STAFF = "duty_staff"  # 值班人员
    DEPARTMENT_CONTACT = "department_contact"  # 责任单位联络人
    DEPARTMENT_HEAD = "department_head"  # 责任单位负责人
    LEADER_IN_CHARGE = "leader_in_charge"  # 分管领导
    MAIN_LEADER = "main_leader"  # 主要领导
    GOVERNMENT_OFFICE = "government_office"  # 政府办


class NotificationIntent(msgspec.Struct, frozen=True, kw_only=True):
    """What to tell whom. `key` is the idempotency key: the same key always has the same content.

    `clock*` and `deadline` are set for warnings and breaches (`warning_before_min` for warnings);
    `message` is a short Chinese summary the notifier may use or replace with its own template.
    """

    key: str
    event_id: str
    incident_id: str
    step: Step
    at: datetime
    grade: Grade | None
    roles: tuple[Role, ...]
    bodies: tuple[str, ...]
    title: str
    category: str | None = None
    place: str | None = None
    clock: str | None = None  # rule name: release | press_conference | follow_up | answer
    clock_id: str | None = None
    clock_label: str | None = None
    deadline: datetime | None = None
    warning_before_min: int | None = None
    message: str = ""
