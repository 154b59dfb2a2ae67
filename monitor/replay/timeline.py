"""A replay's incidents as readers get them (`incidents.json`): each with its timeline and
its clocks' verdicts.

    incidents = timelines(run)      # list of dicts, JSON-ready, in order of first post

Each incident's `events` are {kind, clock, at} plus what the kind needs, in event-time order:
    first_post      the earliest post (event time)
    detected        the monitor opened the incident (when it learnt of the first post)
    graded          grade changed (`from`, `to`, `cause`)
    bodies          responsible bodies set or changed (`bodies`)
    notification    what the dry run recorded as sent (`step`, `channel`, `to`)
    unacknowledged  nobody acknowledged in time
    warning         a clock's warning (`clock`, `deadline`, `before_min`)
    breach          a clock's deadline passed unanswered (`clock`, `deadline`)
    answer          an answer was recorded (`action`, `by`, `url`; `clock`: clocks it stopped)
    closed, merged, split
`verdicts`: as `monitor report` judges them (monitor/domain/compliance.py, one place): each
clock in view and each breached follow-up cycle, with its status (met, late, breached, running,
not_done, excluded: monitor/domain/clocks.py), deadline, when answered and how late.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from monitor.domain import compliance
from monitor.domain.events import Event, EventKind
from monitor.domain.state import IncidentState
from monitor.replay.sandbox import Delivery, Run


@lru_cache(maxsize=65536)
def iso(t: datetime) -> str:
    # cached: a timeline writes each time several times over (a post's events, the
    # notifications they sent), ~6 calls per distinct time in the replay benchmark
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _row(kind: str, at: datetime, clock: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "clock": clock, "at": iso(at), **extra}


def _events(e: Event) -> list[dict[str, Any]]:
    d = e.data
    if e.kind is EventKind.OPENED:
        return [
            _row("detected", e.at, grade=d.get("grade")),
            _row("bodies", e.at, bodies=d.get("bodies", []), level=d.get("level")),
        ]
    if e.kind is EventKind.GRADED:
        row = _row("graded", e.at, **{"from": d.get("from"), "to": d.get("to")})
        row["cause"] = d.get("cause")
        return [row, _row("bodies", e.at, bodies=d.get("bodies", []))]
    if e.kind is EventKind.UPDATED and "bodies" in d:
        return [_row("bodies", e.at, bodies=d["bodies"])]
    if e.kind is EventKind.DEADLINE_WARNING:
        before = int(d.get("before_s", 0)) // 60
        return [_row("warning", e.at, d.get("rule"), deadline=d.get("deadline"),
                     before_min=before, cycle=d.get("cycle", 0))]  # fmt: skip
    if e.kind is EventKind.DEADLINE_BREACHED:
        return [_row("breach", e.at, d.get("rule"), deadline=d.get("deadline"),
                     cycle=d.get("cycle", 0))]  # fmt: skip
    if e.kind is EventKind.UNACKNOWLEDGED:
        return [_row("unacknowledged", e.at)]
    if e.kind is EventKind.ACTION_RECORDED:
        # clock ids ({incident}:{rule}#{cycle}) → the rules they belong to
        stopped = [str(c).rsplit(":", 1)[-1].split("#")[0] for c in d.get("stopped") or []]
        extra = {k: d[k] for k in ("url", "channel", "reason", "grade") if k in d}
        return [_row("answer", e.at, ",".join(stopped) or None, action=d.get("action"),
                     by=d.get("by"), recorded_at=d.get("recorded_at"), **extra)]  # fmt: skip
    if e.kind is EventKind.CLOSED:
        return [_row("closed", e.at, reason=d.get("reason"))]
    if e.kind is EventKind.MERGED:
        return [_row("merged", e.at, into=d.get("into"))]
    if e.kind is EventKind.SPLIT:
        return [_row("split", e.at, new_incident=d.get("new_incident"))]
    return []


def verdicts(state: IncidentState, events: list[Event], now: datetime) -> list[dict[str, Any]]:
    """The incident's verdicts as `monitor report` judges them (monitor/domain/compliance.py):
    every clock in view and every breached cycle, at the end of the replay."""
    after = {r.name: r.after_s for r in state.policy.rules}
    out = []
    for v in compliance.verdicts(compliance.case_of(state, events, now)):
        cycle = int(v.clock_id.rsplit("#", 1)[1]) if "#" in v.clock_id else 0
        since = v.deadline - timedelta(seconds=after.get(v.rule, 0))
        out.append({
            "clock": v.rule, "label": v.label, "cycle": cycle, "cycle_start": iso(since),
            "deadline": iso(v.deadline), "status": v.status,
            "answered_at": iso(v.answered_at) if v.answered_at else None,
            "late_by_s": v.late_s or None,
        })  # fmt: skip
    return out


def _heat(posts: list[tuple[str, datetime]]) -> list[list[Any]]:
    """Posts per hour of event time."""
    hours = Counter(t.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for _, t in posts)
    return [[iso(h), n] for h, n in sorted(hours.items())]


def timeline(ident: str, run: Run, deliveries: list[Delivery]) -> dict[str, Any]:
    state = run.states[ident]
    end = run.end or state.last_seen
    posts = run.posts.get(ident, [])
    first = min(posts, key=lambda p: (p[1], p[0])) if posts else None
    rows: list[dict[str, Any]] = []
    if first is not None:
        rows.append(_row("first_post", first[1], post_id=first[0]))
    for e in run.events.get(ident, []):
        rows.extend(_events(e))
    for d in deliveries:
        rows.append(_row("notification", d.at, d.clock, step=d.step, channel=d.channel,
                             to=list(d.to)))  # fmt: skip
    order = {k: n for n, k in enumerate(
        ("first_post", "detected", "bodies", "graded", "answer", "unacknowledged", "warning",
         "breach", "notification", "closed", "merged", "split")
    )}  # fmt: skip
    # a stable order: event time, then the story's order within one instant
    rows.sort(key=lambda r: (r["at"], order.get(r["kind"], 99)))
    loc = state.location
    detected = next((r["at"] for r in rows if r["kind"] == "detected"), None)
    return {
        "id": ident,
        "key": state.key,
        "title": state.title,
        "category": state.category,
        "place": "".join(p for p in (loc.county, loc.town) if p) or loc.city or None,
        "in_jurisdiction": loc.in_jurisdiction,
        "grade": state.grade.value,
        "status": state.status.value,
        "bodies": list(state.responsible.bodies),
        "lead": state.responsible.lead,
        "first_post": {"id": first[0], "at": iso(first[1])} if first else None,
        "detected_at": detected,
        "posts": state.heat.posts,
        "post_ids": sorted(p for p, _ in posts),
        "merged_into": state.merged_into,
        "events": rows,
        "verdicts": verdicts(state, run.events.get(ident, []), end),
        "heat": _heat(posts),
    }


def timelines(run: Run) -> list[dict[str, Any]]:
    ids = sorted(run.states, key=lambda i: (run.states[i].first_seen, i))
    by_incident: dict[str, list[Delivery]] = {}
    for d in run.deliveries:
        by_incident.setdefault(d.incident_id, []).append(d)
    return [timeline(i, run, by_incident.get(i, [])) for i in ids]
