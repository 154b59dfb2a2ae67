"""Actions by duty staff and departments: validated, idempotent, and what they do to the clocks.

    apply_action(state, action, now, router=None) -> Outcome     every kind except merge/split
    merge(source, target, action, now) -> (Outcome, Outcome)     source is absorbed by target
    merge_out(source, action, now) / absorb(target, source, action, now)   the same, one side each
    split(state, action, now, texts=()) -> (Outcome, Outcome)    listed posts → a new incident

Who may record which kind, and the evidence each needs, is monitor.domain.permissions.

Three times: `action.at` is when it happened (a release published at 4 h 10 min); `recorded_at`
(keyword, default `now`) is when the monitor was told (entered at 4 h 20 min); `now` is the
caller's watermark (≥ recorded_at). `at` must lie between the incident's first post and
`now + skew_s` (IncidentParams.future_skew_s, 5 min). An answer recorded more than the skew after
its `at` is *backdated*: it is kept with its own time, and the `action_recorded` event says so
(`backdated`, `recorded_at`).

Before an action takes effect the clocks are caught up to when it was recorded, so a deadline
that passed before the monitor heard of the answer has already breached: a backdated answer
stops the clock at its own time but makes the clock `late`, never `met`. The timeline is the
same whether the action arrives live or in a replay, because `recorded_at` travels with it.

Effects: acknowledge → acknowledged, status responding. release → stops `release` and `answer`
(any rule listing it in `stopped_by`) and starts the next `follow_up` cycle; press_conference →
stops `press_conference` (and `release` if still running); follow_up → next follow-up cycle;
close → the incident stops; clocks still running are `not_done` and breached ones stay
`breached` (see monitor/domain/clocks.py); regrade → the manual grade takes effect, up or down
(see `combined_grade` in monitor/domain/incidents.py); merge/split as above.

Rejected with `ActionError` and no state change: an unknown kind, a missing `by`, a time with
no zone, before the first post or after `now` + skew, an action on a closed or merged incident,
missing evidence (permissions.RULES), a release or follow-up URL that is not http(s), a merge
into itself, a split of posts the incident does not hold. An id already applied is a no-op (the
same action again) or an error (the id reused for another action).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import msgspec

from monitor.domain import clocks
from monitor.domain.events import Event, EventKind, utc
from monitor.domain.incidents import (
    TEXT_KEEP,
    Router,
    combined_grade,
    evidence_grade,
    heat_grade,
    set_grade,
)
from monitor.domain.model import Grade
from monitor.domain.outbox import intents_for
from monitor.domain.permissions import evidence_missing
from monitor.domain.policy import FUTURE_SKEW_S, SEVERE, HeatPolicy
from monitor.domain.state import (
    Action,
    ActionKind,
    GradeSources,
    Heat,
    IncidentState,
    Member,
    Outcome,
    Status,
    Stop,
)

__all__ = [
    "Action",
    "ActionError",
    "ActionKind",
    "absorb",
    "apply_action",
    "backdated",
    "merge",
    "merge_out",
    "split",
    "unknown_incident",
    "validate",
]

_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
PUBLISHING = {ActionKind.RELEASE, ActionKind.PRESS_CONFERENCE, ActionKind.FOLLOW_UP}


class ActionError(ValueError):
    """An action refused; the message names the action, the field and what was wrong."""

    def __init__(self, action: Action, field: str, reason: str) -> None:
        super().__init__(
            f"action {action.id!r} ({action.kind}) on {action.incident_id}: {field}: {reason}"
        )
        self.action_id = action.id
        self.field = field
        self.reason = reason


def unknown_incident(action: Action) -> ActionError:
    """The refusal for an action naming no known incident (the edge looks incidents up)."""
    return ActionError(action, "incident_id", f"no incident {action.incident_id!r}")


# --- validation ------------------------------------------------------------------------------


def _kind(action: Action) -> ActionKind:
    try:
        return ActionKind(action.kind)
    except ValueError:
        known = ", ".join(k.value for k in ActionKind)
        raise ActionError(
            action, "kind", f"unknown action {action.kind!r}; known: {known}"
        ) from None


def _check_common(state: IncidentState, action: Action, now: datetime, skew_s: int) -> None:
    if not action.id.strip():
        raise ActionError(action, "id", "an action needs an id")
    if action.incident_id != state.id:
        raise ActionError(action, "incident_id", f"this is incident {state.id}")
    if not action.by.strip():
        raise ActionError(action, "by", "who acted must be named")
    _check_time(state, action, now, skew_s)
    if state.status is Status.MERGED:
        raise ActionError(action, "incident_id", f"incident was merged into {state.merged_into}")
    if state.status is Status.CLOSED:
        raise ActionError(action, "incident_id", "incident is closed")


def _check_time(state: IncidentState, action: Action, now: datetime, skew_s: int) -> None:
    latest = now + timedelta(seconds=skew_s)
    if action.at > latest:
        raise ActionError(
            action, "at", f"{action.at.isoformat()} is in the future (now {now.isoformat()}, "
            f"at most {skew_s} s ahead is taken as clock drift)",
        )  # fmt: skip
    if action.at < state.first_seen:
        raise ActionError(
            action, "at", f"{action.at.isoformat()} is before the incident's first post "
            f"({state.first_seen.isoformat()}): nothing could answer it yet",
        )  # fmt: skip


def backdated(at: datetime, recorded_at: datetime, skew_s: int = FUTURE_SKEW_S) -> bool:
    """Entered later than it happened by more than the drift allowed for."""
    return (recorded_at - at).total_seconds() > skew_s


def _check_url(action: Action, required: bool) -> None:
    if action.url is None or not action.url.strip():
        if required:
            raise ActionError(action, "url", "evidence URL is required")
        return
    if not _URL.match(action.url.strip()):
        raise ActionError(action, "url", f"{action.url!r} is not an http(s) URL")


def _check_kind(state: IncidentState, action: Action, kind: ActionKind, new: bool) -> None:
    present = {f: getattr(action, f) for f in ("url", "place", "grade", "reason", "target",
                                               "post_ids")}  # fmt: skip
    missing = evidence_missing(kind, present, new)
    if missing is not None:
        field = next(f for f in present if f"`{f}`" in missing)
        raise ActionError(action, field, missing)
    if kind in (ActionKind.RELEASE, ActionKind.FOLLOW_UP, ActionKind.PRESS_CONFERENCE):
        _check_url(action, required=False)
    elif kind is ActionKind.MERGE:
        if action.target == state.id:
            raise ActionError(action, "target", "name another incident to merge into")
    elif kind is ActionKind.SPLIT:
        _check_split(state, action)


def _check_split(state: IncidentState, action: Action) -> None:
    if not action.post_ids:
        raise ActionError(action, "post_ids", "name the posts to split off")
    held = set(state.post_ids)
    missing = [p for p in action.post_ids if p not in held]
    if missing:
        raise ActionError(action, "post_ids", f"not in this incident: {', '.join(missing)}")
    if held <= set(action.post_ids) and state.heat.posts <= len(held):
        raise ActionError(action, "post_ids", "cannot split off every post; close it instead")


def normalised(action: Action) -> Action:
    """The action with its time in UTC, as the state keeps every time."""
    if action.at.tzinfo is None:
        raise ActionError(action, "at", f"{action.at.isoformat()} has no time zone")
    return msgspec.structs.replace(action, at=utc(action.at))


def validate(
    state: IncidentState,
    action: Action,
    now: datetime,
    skew_s: int = FUTURE_SKEW_S,
    new: bool = False,
) -> ActionKind | None:
    """The action's kind if it must be applied, None if it already was (idempotent).
    `action` must be `normalised`. `new`: it is being recorded now (the edge), so evidence
    that is only asked of new actions is required too (permissions.Evidence.asked)."""
    kind = _kind(action)
    for done in state.actions:
        if done.id == action.id:
            if done != action:
                raise ActionError(action, "id", "this id was already used for a different action")
            return None
    _check_common(state, action, now, skew_s)
    _check_kind(state, action, kind, new)
    return kind


# --- effects ---------------------------------------------------------------------------------


class Recording(msgspec.Struct, frozen=True):
    """When an action reached the monitor (`recorded`, never after `now`) and the drift
    allowed between a sender's clock and ours."""

    now: datetime
    recorded: datetime
    skew_s: int

    @classmethod
    def of(cls, now: datetime, recorded_at: datetime | None, skew_s: int) -> Recording:
        recorded = utc(now) if recorded_at is None else min(utc(recorded_at), utc(now))
        return cls(now, recorded, skew_s)

    def stamp(self, action: Action) -> dict[str, object]:
        return {
            "recorded_at": self.recorded.isoformat(),
            "backdated": backdated(action.at, self.recorded, self.skew_s),
        }


def _recorded(
    state: IncidentState, action: Action, extra: Mapping[str, object], rec: Recording
) -> Event:
    data: dict[str, object] = {"action_id": action.id, "action": action.kind, "by": action.by}
    for field in ("url", "channel", "place", "reason", "target", "note"):
        value = getattr(action, field)
        if value is not None:
            data[field] = value
    if action.grade is not None:
        data["grade"] = action.grade.value
    if action.post_ids:
        data["post_ids"] = list(action.post_ids)
    data |= rec.stamp(action) | dict(extra)
    return _recorded_event(state, action, data)


def _recorded_event(state: IncidentState, action: Action, data: dict[str, object]) -> Event:
    """The `action_recorded` event: one per action and incident, so its id is theirs."""
    return Event(
        id=f"{state.id}:action:{action.id}",
        kind=EventKind.ACTION_RECORDED,
        incident_id=state.id,
        at=action.at,
        data=data,
    )


def _publish(state: IncidentState, action: Action) -> tuple[IncidentState, list[str]]:
    stops = dict(state.stops)
    stopped: list[str] = []
    anchor, cycle = state.follow_up_anchor, state.follow_up_cycle
    running = set(clocks.applicable(state))
    for rule in state.policy.rules:
        if action.kind not in rule.stopped_by:
            continue
        if rule.repeat:
            start = clocks.view(state, rule).start
            anchor = max(anchor or start, action.at)
            cid = clocks.clock_id(state.id, rule.name, cycle)
            cycle += 1
        elif rule.name not in stops:
            # kept for rules not running now too: they count if the grade changes later
            stops[rule.name] = Stop(action.at, action.id)
            cid = clocks.clock_id(state.id, rule.name)
        else:
            continue
        if rule in running:
            stopped.append(cid)
    state = msgspec.structs.replace(
        state, stops=stops, follow_up_anchor=anchor, follow_up_cycle=cycle
    )
    return _engaged(state, action.at), stopped


def _engaged(state: IncidentState, at: datetime) -> IncidentState:
    acknowledged = state.acknowledged_at if state.acknowledged_at is not None else at
    return msgspec.structs.replace(state, acknowledged_at=acknowledged, status=Status.RESPONDING)


def _late(state: IncidentState, stopped: Sequence[str]) -> list[str]:
    return [c.id for c in state.clocks if c.id in stopped and c.status == "late"]


def apply_action(
    state: IncidentState,
    action: Action,
    now: datetime,
    router: Router | None = None,
    *,
    recorded_at: datetime | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> Outcome:
    action = normalised(action)
    rec = Recording.of(now, recorded_at, skew_s)
    kind = validate(state, action, now, skew_s)
    if kind is None:
        return Outcome(state=state)
    if kind in (ActionKind.MERGE, ActionKind.SPLIT):
        raise ActionError(action, "kind", f"use actions.{kind.value}() (it changes two incidents)")
    caught_up = _catch_up(state, rec)
    state = msgspec.structs.replace(
        caught_up.state, actions=(*caught_up.state.actions, action), rev=caught_up.state.rev + 1
    )
    return caught_up.then(_effect(state, action, kind, router, rec))


def _catch_up(state: IncidentState, rec: Recording) -> Outcome:
    """Fire what fell due before the monitor heard of the action: a deadline that passed
    before a backdated answer was entered has breached, whatever time the answer claims."""
    return clocks.catch_up(state, rec.recorded)


def _effect(
    state: IncidentState, action: Action, kind: ActionKind, router: Router | None, rec: Recording
) -> Outcome:
    if kind is ActionKind.ACKNOWLEDGE:
        state = clocks.refresh(_engaged(state, action.at))
        return Outcome(state=state, events=(_recorded(state, action, {}, rec),))
    if kind in PUBLISHING:
        state, stopped = _publish(state, action)
        state = clocks.refresh(state)
        extra = {"stopped": stopped, "late": _late(state, stopped)}
        return Outcome(state=state, events=(_recorded(state, action, extra, rec),))
    if kind is ActionKind.CLOSE:
        return _close(state, action, rec)
    sources = msgspec.structs.replace(
        state.grades, manual=action.grade, manual_reason=action.reason,
        manual_evidence=evidence_grade(state.grades),
    )  # fmt: skip
    effective = {"effective": combined_grade(sources).value}
    recorded = Outcome(state=state, events=(_recorded(state, action, effective, rec),))
    # the new grade's rules apply from when the monitor heard of it, not from a claimed past
    return recorded.then(
        set_grade(state, sources, action.at, rec.recorded, router, f"action {action.id}")
    )


def _close(state: IncidentState, action: Action, rec: Recording) -> Outcome:
    state = clocks.refresh(
        msgspec.structs.replace(state, status=Status.CLOSED, closed_at=action.at)
    )
    closed = Event(
        id=f"{state.id}:closed",
        kind=EventKind.CLOSED,
        incident_id=state.id,
        at=action.at,
        data={"by": action.by, "action_id": action.id, "reason": action.reason},
    )
    return Outcome(state=state, events=(_recorded(state, action, {}, rec), closed))


# --- merge -----------------------------------------------------------------------------------


def merge_out(
    source: IncidentState,
    action: Action,
    now: datetime,
    *,
    recorded_at: datetime | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> Outcome:
    """The absorbed side: it stops, pointing at the survivor. Its breaches stay on record as
    events; its clocks read `excluded` (the survivor carries them on)."""
    action = normalised(action)
    rec = Recording.of(now, recorded_at, skew_s)
    kind = validate(source, action, now, skew_s)
    if kind is None:
        return Outcome(state=source)
    if kind is not ActionKind.MERGE:
        raise ActionError(action, "kind", "merge_out takes a merge action")
    caught_up = _catch_up(source, rec)
    state = msgspec.structs.replace(
        caught_up.state, status=Status.MERGED, merged_into=action.target, closed_at=action.at,
        actions=(*caught_up.state.actions, action), rev=caught_up.state.rev + 1,
    )  # fmt: skip
    state = clocks.refresh(state)
    merged = Event(
        id=f"{state.id}:merged",
        kind=EventKind.MERGED,
        incident_id=state.id,
        at=action.at,
        data={"into": action.target, "by": action.by, "action_id": action.id},
    )
    events = (_recorded(state, action, {}, rec), merged)
    return caught_up.then(Outcome(state=state, events=events))


def absorb(
    target: IncidentState,
    source: IncidentState,
    action: Action,
    now: datetime,
    *,
    recorded_at: datetime | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> Outcome:
    """The surviving side takes the source's posts, heat, grade sources and earliest start."""
    action = normalised(action)
    rec = Recording.of(now, recorded_at, skew_s)
    if target.has_action(action.id):
        return Outcome(state=target)
    if action.target != target.id:
        raise ActionError(action, "target", f"this is incident {target.id}")
    if not target.status.live:
        raise ActionError(action, "target", f"incident {target.id} is {target.status.value}")
    if action.at > now + timedelta(seconds=skew_s):
        raise ActionError(action, "at", f"{action.at.isoformat()} is in the future")
    caught_up = _catch_up(target, rec)
    state = _absorbed(caught_up.state, source, action)
    sources = _merged_sources(state.grades, source.grades)
    data = {"action_id": action.id, "action": "merge", "by": action.by, "from": source.id}
    recorded = _recorded_event(state, action, data | rec.stamp(action))
    out = caught_up.then(Outcome(state=clocks.refresh(state), events=(recorded,)))
    return out.then(
        set_grade(out.state, sources, action.at, rec.recorded, None, f"merge {source.id}")
    )


def _merged_sources(mine: GradeSources, theirs: GradeSources) -> GradeSources:
    """Evidence from both sides; a manual grade from either (the graver, and the evidence it
    was set against), so new evidence must outrank what both sides knew to override it."""
    return GradeSources(
        fact=Grade.graver(mine.fact, theirs.fact),
        fact_basis=mine.fact_basis or theirs.fact_basis,
        heat=Grade.graver(mine.heat, theirs.heat),
        heat_basis=mine.heat_basis or theirs.heat_basis,
        manual=Grade.graver(mine.manual, theirs.manual),
        manual_reason=mine.manual_reason or theirs.manual_reason,
        manual_evidence=Grade.graver(mine.manual_evidence, theirs.manual_evidence),
    )


def _absorbed(state: IncidentState, source: IncidentState, action: Action) -> IncidentState:
    held = set(state.post_ids)
    members = state.members + tuple(m for m in source.members if m.post_id not in held)
    heat = Heat(
        posts=state.heat.posts + source.heat.posts,
        reach=state.heat.reach + source.heat.reach,
        media=state.heat.media + source.heat.media,
        recent=tuple(sorted((*state.heat.recent, *source.heat.recent))),
        peak_velocity=max(state.heat.peak_velocity, source.heat.peak_velocity),
    )
    texts = state.texts + tuple(t for t in source.texts if t not in state.texts)
    severe = [s for s in (state.severe_since, source.severe_since) if s is not None]
    # what either side already published counts for the merged incident: the earlier stop
    stops = dict(state.stops)
    for rule, stop in source.stops.items():
        if rule not in stops or stop.at < stops[rule].at:
            stops[rule] = stop
    acks = [a for a in (state.acknowledged_at, source.acknowledged_at) if a is not None]
    return msgspec.structs.replace(
        state, members=members, heat=heat, texts=texts, stops=stops,
        acknowledged_at=min(acks) if acks else None,
        first_seen=min(state.first_seen, source.first_seen),
        last_seen=max(state.last_seen, source.last_seen),
        severe_since=min(severe) if severe else None,
        merged_from=(*state.merged_from, source.id),
        actions=(*state.actions, action), rev=state.rev + 1,
    )  # fmt: skip


def merge(
    source: IncidentState,
    target: IncidentState,
    action: Action,
    now: datetime,
    *,
    recorded_at: datetime | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> tuple[Outcome, Outcome]:
    """Both sides at once when one worker holds both; validates before changing either."""
    action = normalised(action)
    if action.target != target.id:
        raise ActionError(
            action, "target", f"target is {target.id}, the action says {action.target}"
        )
    validate(source, action, now, skew_s)
    if not target.status.live and not target.has_action(action.id):
        raise ActionError(action, "target", f"incident {target.id} is {target.status.value}")
    return (
        merge_out(source, action, now, recorded_at=recorded_at, skew_s=skew_s),
        absorb(target, source, action, now, recorded_at=recorded_at, skew_s=skew_s),
    )


# --- split -----------------------------------------------------------------------------------


def split_id(action: Action, at: datetime) -> str:
    return f"{at:%Y%m%d}-{hashlib.sha1(f'split|{action.id}'.encode()).hexdigest()[:10]}"


def _heat_of(members: Sequence[Member], policy: HeatPolicy) -> Heat:
    if not members:
        # a split may move every member the incident kept when max_members capped the list
        # (its other posts are only counted): no kept member, no recent times
        return Heat()
    times = sorted(m.at for m in members)
    newest = times[-1]
    recent = [t for t in times if t > newest - timedelta(seconds=policy.window_s)]
    velocity = len(recent) * 3600 / policy.window_s
    return Heat(
        posts=len(members),
        reach=sum(m.reach for m in members),
        media=sum(1 for m in members if m.media),
        recent=tuple(recent[-policy.velocity_keep :]),
        peak_velocity=velocity,
    )


def split(
    state: IncidentState,
    action: Action,
    now: datetime,
    texts: Sequence[str] = (),
    heat_policy: HeatPolicy | None = None,
    *,
    recorded_at: datetime | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> tuple[Outcome, Outcome | None]:
    """Move `action.post_ids` into a new incident. Returns (remaining, new); new is None when
    this split was already applied (idempotent: the new incident exists already).

    `texts` (the moved posts' texts, from the store) let later posts join the new incident by
    similarity; without them only reposts of its posts will.
    """
    action = normalised(action)
    policy = heat_policy or HeatPolicy()
    rec = Recording.of(now, recorded_at, skew_s)
    kind = validate(state, action, now, skew_s)
    if kind is None:
        return Outcome(state=state), None
    if kind is not ActionKind.SPLIT:
        raise ActionError(action, "kind", "split takes a split action")
    caught_up = _catch_up(state, rec)
    moving = set(action.post_ids)
    moved = tuple(m for m in caught_up.state.members if m.post_id in moving)
    kept = tuple(m for m in caught_up.state.members if m.post_id not in moving)
    new_id = split_id(action, action.at)
    remaining = _remaining(caught_up.state, action, moved, kept, new_id, policy, rec)
    created = _split_off(caught_up.state, action, moved, new_id, texts, policy)
    return caught_up.then(remaining), created


def _remaining(
    state: IncidentState,
    action: Action,
    moved: Sequence[Member],
    kept: tuple[Member, ...],
    new_id: str,
    policy: HeatPolicy,
    rec: Recording,
) -> Outcome:
    complete = state.heat.posts == len(state.members)
    heat = Heat(
        posts=state.heat.posts - len(moved),
        reach=state.heat.reach - sum(m.reach for m in moved),
        media=state.heat.media - sum(1 for m in moved if m.media),
        recent=_heat_of(kept, policy).recent,
        peak_velocity=_heat_of(kept, policy).peak_velocity,
    )
    fact = Grade.graver(*(m.grade for m in kept)) if complete else state.grades.fact
    hgrade, hbasis = heat_grade(heat, policy)
    sources = msgspec.structs.replace(state.grades, fact=fact, heat=hgrade, heat_basis=hbasis)
    state = msgspec.structs.replace(
        state, members=kept, heat=heat, actions=(*state.actions, action), rev=state.rev + 1,
        first_seen=min(m.at for m in kept) if complete else state.first_seen,
    )  # fmt: skip
    event = Event(
        id=f"{state.id}:split:{action.id}",
        kind=EventKind.SPLIT,
        incident_id=state.id,
        at=action.at,
        data={"new_incident": new_id, "post_ids": list(action.post_ids), "by": action.by},
    )
    out = Outcome(state=clocks.refresh(state), events=(_recorded(state, action, {}, rec), event))
    return out.then(set_grade(out.state, sources, action.at, action.at, None, f"split {action.id}"))


def _split_off(
    origin: IncidentState,
    action: Action,
    moved: Sequence[Member],
    new_id: str,
    texts: Sequence[str],
    policy: HeatPolicy,
) -> Outcome:
    heat = _heat_of(moved, policy)
    hgrade, hbasis = heat_grade(heat, policy)
    fact = Grade.graver(*(m.grade for m in moved))
    sources = GradeSources(fact=fact, heat=hgrade, heat_basis=hbasis)
    grade = combined_grade(sources)
    first = min(m.at for m in moved)
    at = action.at
    state = IncidentState(
        id=new_id, key=origin.key, category=origin.category, family=origin.family,
        title=(action.note or f"{origin.title}（拆分）")[:60], location=origin.location,
        first_seen=first, opened_at=at, last_seen=max(m.at for m in moved), grade=grade,
        grades=sources, grade_changed_at=at, severe_since=first if grade in SEVERE else None,
        responsible=origin.responsible, policy=origin.policy, heat=heat, members=tuple(moved),
        texts=tuple(t[:TEXT_KEEP] for t in texts), rev=1, actions=(action,),
        rule_since={r.name: at for r in origin.policy.rules if grade in r.grades},
    )  # fmt: skip
    state = clocks.refresh(state)
    opened = Event(
        id=f"{new_id}:opened",
        kind=EventKind.OPENED,
        incident_id=new_id,
        at=at,
        data={
            "key": state.key, "category": state.category, "title": state.title,
            "grade": grade.value, "split_from": origin.id, "post_ids": list(action.post_ids),
            "bodies": list(state.responsible.bodies), "policy_version": state.policy_version,
            "first_seen": first.isoformat(),
        },
    )  # fmt: skip
    out = Outcome(state=state, events=(opened,), notifications=intents_for(state, [opened]))
    return out.then(clocks.evaluate(state, at))
