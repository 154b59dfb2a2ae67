"""Who is told what, when: the escalation ladder as a declarative routing tree.

The tree works like Alertmanager's dispatch routes: a trigger walks down from the root; a
node matches when every matcher it declares matches; the first matching child wins unless it
says `continue`; a node whose children all miss is itself the answer. Options a node leaves
unset (roles, quiet hours) are inherited from its parent, so the root states the defaults.

The tree is the only thing that decides who hears of a step: the incident domain
(monitor/domain/outbox.py) says which step, which clock and what happened, and names no role.
`Role` and `Step` are defined here, once.

Quiet hours hold a delivery to the end of the quiet period, except: anything to duty staff,
anything about a grade I/II incident, and anything on a route with `quiet_hours: false`. A
channel carrying both kinds of recipient gets two deliveries (the held one's key ends in
`/quiet`), so the duty office is never held back with the others.

Everything here is pure: time arrives as an argument, and `plan` returns deliveries for the
edge to enqueue; nothing here sends or stores.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta, timezone
from enum import StrEnum

import msgspec

from monitor.domain.model import Grade


class Role(StrEnum):
    DUTY_STAFF = "duty_staff"
    DEPARTMENT_CONTACT = "department_contact"
    DEPARTMENT_HEAD = "department_head"
    LEADER_IN_CHARGE = "leader_in_charge"
    MAIN_LEADER = "main_leader"
    GOVERNMENT_OFFICE = "government_office"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.DUTY_STAFF: "值班人员",
    Role.DEPARTMENT_CONTACT: "部门联络人",
    Role.DEPARTMENT_HEAD: "部门负责人",
    Role.LEADER_IN_CHARGE: "分管领导",
    Role.MAIN_LEADER: "主要领导",
    Role.GOVERNMENT_OFFICE: "政府办",
}


class Step(StrEnum):
    """Why a notification is sent. `delivery_failed`/`uncertain` come from the sender itself."""

    OPENED = "opened"
    UNACKNOWLEDGED = "unacknowledged"
    WARNING = "warning"
    BREACH = "breach"
    REGRADED = "regraded"
    RECORD_REFUSED = "record_refused"  # the pipeline could not handle an input
    DELIVERY_FAILED = "delivery_failed"
    UNCERTAIN = "uncertain"


# Grades I and II are never held back: a 5-hour clock cannot wait for morning.
URGENT_GRADES = frozenset({Grade.I, Grade.II})


class Trigger(msgspec.Struct, frozen=True, kw_only=True):
    """One reason to notify, as the ladder sees it. `key` is the idempotency key.
    `in_jurisdiction` False: an incident outside the city, shown for awareness only."""

    key: str
    incident_id: str
    step: Step
    grade: Grade | None
    at: datetime
    bodies: tuple[str, ...] = ()
    category: str | None = None
    clock: str | None = None
    warning_before_min: int | None = None
    in_jurisdiction: bool = True


class Matchers(msgspec.Struct, frozen=True, kw_only=True):
    """Empty sets (and None) match anything. `bodies` matches when any of the trigger's bodies
    is listed."""

    steps: frozenset[Step] = frozenset()
    grades: frozenset[Grade] = frozenset()
    bodies: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    clocks: frozenset[str] = frozenset()
    warning_before_min: frozenset[int] = frozenset()
    in_jurisdiction: bool | None = None

    def matches(self, t: Trigger) -> bool:
        return (
            _hit(self.steps, t.step)
            and _hit(self.grades, t.grade)
            and (not self.bodies or bool(self.bodies.intersection(t.bodies)))
            and _hit(self.categories, t.category)
            and _hit(self.clocks, t.clock)
            and _hit(self.warning_before_min, t.warning_before_min)
            and (self.in_jurisdiction is None or self.in_jurisdiction == t.in_jurisdiction)
        )


def _hit(allowed: frozenset[object], value: object) -> bool:
    return not allowed or value in allowed


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """A node of the ladder. None options inherit from the parent."""

    name: str
    match: Matchers = Matchers()
    roles: tuple[Role, ...] | None = None
    quiet_hours: bool | None = None
    continue_: bool = False
    routes: tuple[Route, ...] = ()


class Matched(msgspec.Struct, frozen=True, kw_only=True):
    """A route that answered, with its options after inheritance."""

    route: str
    roles: tuple[Role, ...]
    quiet_hours: bool


def match(route: Route, trigger: Trigger, parent: Matched | None = None) -> list[Matched]:
    """The routes that answer `trigger`, in tree order (Alertmanager's Route.Match)."""
    if not route.match.matches(trigger):
        return []
    here = _inherit(route, parent)
    found: list[Matched] = []
    for child in route.routes:
        got = match(child, trigger, here)
        found.extend(got)
        if got and not child.continue_:
            break
    return found or [here]


def _inherit(route: Route, parent: Matched | None) -> Matched:
    roles = route.roles if route.roles is not None else (parent.roles if parent else ())
    quiet = route.quiet_hours
    if quiet is None:
        quiet = parent.quiet_hours if parent else True
    return Matched(route=route.name, roles=roles, quiet_hours=quiet)


class QuietHours(msgspec.Struct, frozen=True, kw_only=True):
    """Local times; `start` > `end` spans midnight. `utc_offset_min` fixes the local zone."""

    start: time
    end: time
    utc_offset_min: int = 480

    def release_time(self, at: datetime) -> datetime | None:
        """The end of the quiet period `at` falls in, or None if `at` is not quiet."""
        tz = timezone(timedelta(minutes=self.utc_offset_min))
        local = at.astimezone(tz)
        now, day = local.timetz().replace(tzinfo=None), local.date()
        if self.start == self.end:
            return None
        if self.start < self.end:
            inside, end_day = self.start <= now < self.end, day
        else:
            inside = now >= self.start or now < self.end
            end_day = day + timedelta(days=1) if now >= self.start else day
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=tz).astimezone(at.tzinfo)


def deliver_at(
    at: datetime, grade: Grade | None, quiet: QuietHours | None, applies: bool
) -> datetime:
    """When a notice may go out: now, or the end of quiet hours for grades III/IV."""
    if quiet is None or not applies or grade in URGENT_GRADES:
        return at
    return quiet.release_time(at) or at


class Reach(msgspec.Struct, frozen=True, kw_only=True):
    """One way to reach a contact: a named channel and, for that channel, who to address.

    For a group robot `address` is who to mention (mobile or user id); for email the mailbox;
    for a webhook (SMS gateway) the phone number.
    """

    channel: str
    address: str | None = None


class Contact(msgspec.Struct, frozen=True, kw_only=True):
    """A person or desk. `body` None means city-wide (duty office, main leader, 政府办)."""

    name: str
    role: Role
    body: str | None = None
    reach: tuple[Reach, ...]


class Recipient(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    role: Role
    body: str | None
    address: str | None


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One request to one channel: several recipients in one robot group share it."""

    key: str
    channel: str
    recipients: tuple[Recipient, ...]
    not_before: datetime


class Unreachable(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    body: str | None


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    trigger: Trigger
    routes: tuple[str, ...]
    deliveries: tuple[Delivery, ...]
    unreachable: tuple[Unreachable, ...]


class Ladder(msgspec.Struct, frozen=True, kw_only=True):
    """Who hears of each step: the tree, the people and quiet hours. When steps fire is the
    incident clocks' business (city config `clocks`), so it is configured once."""

    route: Route
    contacts: tuple[Contact, ...]
    quiet_hours: QuietHours | None = None
    version: str = "1"


CITY_WIDE_ROLES = frozenset({Role.DUTY_STAFF, Role.MAIN_LEADER, Role.GOVERNMENT_OFFICE})


def contacts_for(
    contacts: Iterable[Contact], role: Role, bodies: tuple[str, ...]
) -> tuple[list[Contact], list[Unreachable]]:
    """Contacts holding `role` for each body; a body without its own falls to the city-wide one.

    City-wide roles ignore bodies. A body with neither its own nor a city-wide contact is
    reported as unreachable so the edge can tell duty staff, never dropped quietly.
    """
    pool = [c for c in contacts if c.role == role]
    city = [c for c in pool if c.body is None]
    if role in CITY_WIDE_ROLES or not bodies:
        return city, ([] if city else [Unreachable(role=role, body=None)])
    found: list[Contact] = []
    missing: list[Unreachable] = []
    for body in bodies:
        own = [c for c in pool if c.body == body] or city
        found.extend(c for c in own if c not in found)
        if not own:
            missing.append(Unreachable(role=role, body=body))
    return found, missing


def plan(ladder: Ladder, trigger: Trigger) -> Plan:
    """Route `trigger` and resolve roles to channel deliveries: one per channel, and a second,
    held one (key `…/quiet`) for the recipients quiet hours hold back."""
    matched = match(ladder.route, trigger)
    recipients: dict[str, list[Recipient]] = {}
    quiet_applies = all(m.quiet_hours for m in matched)
    missing: list[Unreachable] = []
    for role in routed_roles(matched):
        people, lost = contacts_for(ladder.contacts, role, trigger.bodies)
        missing.extend(lost)
        for person in people:
            for reach in person.reach:
                _add(recipients.setdefault(reach.channel, []), person, reach)
    later = deliver_at(trigger.at, trigger.grade, ladder.quiet_hours, quiet_applies)
    deliveries: list[Delivery] = []
    for channel, rs in sorted(recipients.items()):
        now = tuple(r for r in rs if later == trigger.at or r.role in NEVER_HELD)
        held = tuple(r for r in rs if r not in now)
        key = f"{trigger.key}/{channel}"
        if now:
            deliveries.append(
                Delivery(key=key, channel=channel, recipients=now, not_before=trigger.at)
            )
        if held:
            deliveries.append(
                Delivery(key=f"{key}/quiet", channel=channel, recipients=held, not_before=later)
            )
    routes = tuple(m.route for m in matched)
    return Plan(
        trigger=trigger, routes=routes, deliveries=tuple(deliveries), unreachable=tuple(missing)
    )


# Quiet hours never hold the duty office: it decides whom to wake.
NEVER_HELD = frozenset({Role.DUTY_STAFF})


def routed_roles(matched: list[Matched]) -> list[Role]:
    """The roles the matched routes name, in order, each once."""
    seen: list[Role] = []
    for m in matched:
        seen.extend(r for r in m.roles if r not in seen)
    return seen


def _add(into: list[Recipient], person: Contact, reach: Reach) -> None:
    r = Recipient(name=person.name, role=person.role, body=person.body, address=reach.address)
    if r not in into:
        into.append(r)
