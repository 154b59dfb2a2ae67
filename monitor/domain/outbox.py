"""Notification intents for the outbox, derived from events (DESIGN.md §2 ladder).

    opened                      → duty staff + responsible bodies (+ leader in charge for I/II)
    unacknowledged (30 min)     → + department head
    deadline warning            → duty staff + bodies; from T-1h (`leader_warning`) + leader
    breach                      → + main leader + 政府办
    graded up to I/II           → duty staff + bodies + leader in charge
    outside the jurisdiction    → duty staff on open, for awareness; nothing else

Only who and why is decided here; channels, contacts and quiet hours belong to the escalation
ladder (monitor/domain/escalation.py) and the notifier. The key is `notify:{event id}` and the
content depends only on the event and the state it came from, so a replay rebuilds the same
intent under the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.domain.events import Event, EventKind, NotificationIntent, Role, Step
from monitor.domain.model import Grade

if TYPE_CHECKING:
    from monitor.domain.state import IncidentState

BASE = (Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT)


def place_text(state: IncidentState) -> str | None:
    loc = state.location
    parts = [p for p in (loc.city, loc.county, loc.town) if p]
    return "".join(parts) or None


def _left(deadline: datetime, at: datetime) -> str:
    seconds = int((deadline - at) / timedelta(seconds=1))
    if seconds <= 0:
        return "已超时"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"剩余{hours}小时{minutes}分钟" if hours else f"剩余{minutes}分钟"


def _roles_and_text(
    state: IncidentState, event: Event
) -> tuple[Step, tuple[Role, ...], str] | None:
    grade = f"{state.grade.label}（{state.grade.value}级）"
    if state.watch_only:
        if event.kind is EventKind.OPENED:
            return (
                Step.OPENED,
                (Role.DUTY_STAFF,),
                f"辖区外舆情（仅供关注）：{state.title}，{grade}。",
            )
        return None
    if event.kind is EventKind.OPENED:
        # grade I/II: the city's leader in charge is informed from the start (DESIGN.md §2)
        severe = state.grade in (Grade.I, Grade.II)
        return (
            Step.OPENED,
            (*BASE, Role.LEADER_IN_CHARGE) if severe else BASE,
            f"新舆情事件：{state.title}，初判{grade}，请责任单位及时核实回应。",
        )
    if event.kind is EventKind.UNACKNOWLEDGED:
        return (
            Step.UNACKNOWLEDGED, (*BASE, Role.DEPARTMENT_HEAD),
            f"舆情事件“{state.title}”推送后超过30分钟未签收，请责任单位负责人督促处置。",
        )  # fmt: skip
    if event.kind is EventKind.DEADLINE_WARNING:
        deadline = datetime.fromisoformat(str(event.data["deadline"]))
        before = int(str(event.data.get("before_s", 0)))
        roles = BASE if before > state.policy.leader_warning_s else (*BASE, Role.LEADER_IN_CHARGE)
        left = _left(deadline, event.at)
        text = f"“{state.title}”{event.data['label']}时限临近（{left}），请尽快处置。"
        return Step.WARNING, roles, text
    if event.kind is EventKind.DEADLINE_BREACHED:
        return (
            Step.BREACH, (*BASE, Role.MAIN_LEADER, Role.GOVERNMENT_OFFICE),
            f"“{state.title}”{event.data['label']}已超过时限未完成，请主要领导关注。",
        )  # fmt: skip
    upgraded = event.kind is EventKind.GRADED and event.data.get("direction") == "up"
    if upgraded and state.grade in (Grade.I, Grade.II):
        return (
            Step.REGRADED, (*BASE, Role.LEADER_IN_CHARGE),
            f"“{state.title}”升级为{grade}，请按时限发布权威信息、召开新闻发布会。",
        )  # fmt: skip
    return None


def _minutes(seconds: object) -> int | None:
    return int(str(seconds)) // 60 if seconds is not None else None


def intents_for(state: IncidentState, events: Sequence[Event]) -> tuple[NotificationIntent, ...]:
    out: list[NotificationIntent] = []
    for event in events:
        decided = _roles_and_text(state, event)
        if decided is None:
            continue
        step, roles, message = decided
        deadline = event.data.get("deadline")
        out.append(
            NotificationIntent(
                key=f"notify:{event.id}",
                event_id=event.id,
                incident_id=state.id,
                step=step,
                at=event.at,
                grade=state.grade,
                roles=roles,
                bodies=state.responsible.bodies,
                title=state.title,
                place=place_text(state),
                category=state.category,
                clock=str(event.data["rule"]) if "rule" in event.data else None,
                clock_id=str(event.data["clock"]) if "clock" in event.data else None,
                clock_label=str(event.data["label"]) if "label" in event.data else None,
                deadline=datetime.fromisoformat(str(deadline)) if deadline else None,
                warning_before_min=_minutes(event.data.get("before_s")),
                message=message,
            )
        )
    return tuple(out)
