"""The incident's state, as one serialisable value.

`IncidentState` is a frozen msgspec Struct: the streams layer keeps it in a Faust Table (or the
store) as JSON/msgpack and gets it back unchanged; every domain call takes a state and returns
a new one inside an `Outcome`, with the events and notification intents it decided on. State
can therefore be rebuilt by replaying the archived inputs through the same calls.

Lifecycle: open → responding (acknowledged or answered) → closed; or merged (into another
incident). The clock policy is copied in at open (`policy`), so config edits never move a
running incident's deadlines.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Annotated

import msgspec

from monitor.domain.events import Event, NotificationIntent
from monitor.domain.model import Grade, Id, Location, Name, Responsible, Url, limited
from monitor.domain.policy import ClockPolicy


class Status(StrEnum):
    OPEN = "open"
    RESPONDING = "responding"
    CLOSED = "closed"
    MERGED = "merged"

    @property
    def live(self) -> bool:
        # a module constant: looking the members up on the class cost more than the test, and
        # every post asks every incident of its key
        return self in _LIVE_STATUSES


_LIVE_STATUSES = frozenset({Status.OPEN, Status.RESPONDING})


IncidentId = Annotated[str, limited(80)]  # the store's incident id column
MAX_NOTE_CHARS = 2000  # a reason or a note
MAX_SPLIT_POSTS = 300  # post ids one split may name (max_members by default)


class ActionKind(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RELEASE = "release"
    PRESS_CONFERENCE = "press_conference"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    REGRADE = "regrade"
    MERGE = "merge"
    SPLIT = "split"


class Action(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A command from duty staff or a department. `id` makes it idempotent; `at` is when it
    happened (a release's publication time), which may be earlier than when it was recorded.

    Evidence by kind: release/follow_up need `url` (and `channel`); press_conference needs `url`
    or `place`; regrade needs `grade` and `reason`; merge needs `target` (the surviving
    incident); split needs `post_ids`. Unknown fields are refused on decode, so a misspelt
    `ulr` is an error rather than a release without evidence. Every field has a length limit
    (checked on decode, as Post's are), so an answer cannot outgrow the records it rides in.
    """

    id: Id
    incident_id: IncidentId
    kind: Annotated[str, limited(32)]
    by: Annotated[str, limited(120)]
    at: datetime
    url: Url | None = None
    channel: Annotated[str, limited(100)] | None = None
    place: Name | None = None
    grade: Grade | None = None
    reason: Annotated[str, limited(MAX_NOTE_CHARS)] | None = None
    target: IncidentId | None = None
    post_ids: Annotated[tuple[Id, ...], limited(MAX_SPLIT_POSTS)] = ()
    note: Annotated[str, limited(MAX_NOTE_CHARS)] | None = None


class Member(msgspec.Struct, frozen=True, array_like=True):
    """What the incident keeps of one post: enough to recount heat and grade after a split."""

    post_id: str
    at: datetime
    reach: int
    media: bool
    grade: Grade | None
    repost_of: str | None = None


_POST_ID = attrgetter("post_id")
# One entry per incident: its members tuple and that tuple's ids. Keyed by incident id, not by
# the tuple, because every post added below max_members makes a new tuple: a cache keyed by
# tuple kept thousands of stale sets (33 MB of a worker's peak in a 60,000-post flood). Bounded
# by the ids it holds, not by entries: a month's replay keeps ~7,000 mostly small incidents
# open, and a cap of 4,096 entries rebuilt their sets over and over.
_MEMBER_IDS: dict[str, tuple[tuple[Member, ...], frozenset[str]]] = {}
_MEMBER_IDS_BUDGET = 300_000  # ids (about 1,000 incidents at max_members), ~20 MB of sets
_member_ids_held = 0


def member_ids(incident_id: str, members: tuple[Member, ...]) -> frozenset[str]:
    global _member_ids_held
    hit = _MEMBER_IDS.pop(incident_id, None)
    if hit is not None and hit[0] is members:
        _MEMBER_IDS[incident_id] = hit  # to the end: the newest entry
        return hit[1]
    ids = frozenset(map(_POST_ID, members))
    if hit is not None:
        _member_ids_held -= len(hit[1])
    while _MEMBER_IDS and _member_ids_held + len(ids) > _MEMBER_IDS_BUDGET:
        _member_ids_held -= len(_MEMBER_IDS.pop(next(iter(_MEMBER_IDS)))[1])  # the oldest
    _MEMBER_IDS[incident_id] = (members, ids)
    _member_ids_held += len(ids)
    return ids


class Heat(msgspec.Struct, frozen=True, kw_only=True):
    posts: int = 0
    reach: int = 0  # sum of authors' followers over posts (an author posting twice counts twice)
    media: int = 0  # posts by media sources or verified authors
    recent: tuple[datetime, ...] = ()  # newest post times, bounded, for velocity
    peak_velocity: float = 0.0  # posts per hour, highest seen over the heat window


class GradeSources(msgspec.Struct, frozen=True, kw_only=True):
    fact: Grade | None = None
    fact_basis: str | None = None
    heat: Grade | None = None
    heat_basis: str | None = None
    manual: Grade | None = None
    manual_reason: str | None = None
    # the graver of fact and heat when the manual grade was set: only graver evidence than
    # this overrides it (monitor.domain.incidents.combined_grade)
    manual_evidence: Grade | None = None


class Stop(msgspec.Struct, frozen=True, array_like=True):
    at: datetime
    action_id: str


class ClockView(msgspec.Struct, frozen=True, kw_only=True):
    """A clock as readers see it. `status` is one of monitor.domain.clocks.STATUSES (running,
    met, late, breached, not_done, excluded), documented there."""

    id: str
    rule: str
    label: str
    start: datetime
    deadline: datetime
    status: str
    stopped_at: datetime | None = None
    cycle: int = 0


class IncidentState(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    key: str
    category: str
    family: str
    title: str
    location: Location
    first_seen: datetime  # event time of the earliest post
    opened_at: datetime  # when the monitor learnt of it (first post's observed time)
    last_seen: datetime  # event time of the newest post
    grade: Grade
    grades: GradeSources
    grade_changed_at: datetime
    severe_since: datetime | None
    responsible: Responsible
    policy: ClockPolicy
    status: Status = Status.OPEN
    heat: Heat = Heat()
    members: tuple[Member, ...] = ()
    recent_ids: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    stops: dict[str, Stop] = msgspec.field(default_factory=dict)
    rule_since: dict[str, datetime] = msgspec.field(
        default_factory=dict
    )  # when a rule began to apply
    follow_up_anchor: datetime | None = None
    follow_up_cycle: int = 0
    clocks: tuple[ClockView, ...] = ()
    next_due_at: datetime | None = None  # earliest unfired clock item; kept by clocks.refresh
    fired: tuple[str, ...] = ()
    acknowledged_at: datetime | None = None
    actions: tuple[Action, ...] = ()
    closed_at: datetime | None = None
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()
    rev: int = 0  # bumped by inputs (posts, actions), never by clock ticks

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def post_ids(self) -> tuple[str, ...]:
        return tuple(m.post_id for m in self.members)

    @property
    def member_ids(self) -> frozenset[str]:
        """Every post of its bucket asks every incident whether it holds the post (redelivery)
        or its original (repost): a scan of up to max_members ids each time was most of a
        worker's CPU."""
        return member_ids(self.id, self.members)

    def holds(self, post_id: str) -> bool:
        """A member, or among the newest ids (which go on past max_members)."""
        return post_id in self.recent_ids or post_id in member_ids(self.id, self.members)

    @property
    def watch_only(self) -> bool:
        """Outside the jurisdiction: shown, not assigned (DESIGN.md §2), so no clocks run.
        An unknown place (None) counts as inside: a missed deadline costs more than a reminder."""
        return self.location.in_jurisdiction is False

    def has_action(self, action_id: str) -> bool:
        return any(a.id == action_id for a in self.actions)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """A domain call's result: the new state plus what the edges must publish."""

    state: IncidentState
    events: tuple[Event, ...] = ()
    notifications: tuple[NotificationIntent, ...] = ()

    def then(self, other: Outcome) -> Outcome:
        """`other` continues from this outcome's state; events and intents accumulate."""
        return Outcome(
            state=other.state,
            events=self.events + other.events,
            notifications=self.notifications + other.notifications,
        )
