"""Rules that must hold for every sequence of posts and answers (hypothesis), on the pure domain
with a fake clock that only moves forward:

- no clock breaches before its deadline;
- no clock reads `met` unless it was answered by its deadline, before any breach;
- once a clock breached it never reads `met` again, whatever a department enters (backdated,
  late, duplicated answers) and whatever duty staff do (close, regrade);
- closing meets nothing;
- an answer's `at` is refused exactly when it lies before the first post or beyond now + skew;
- the notifications are exactly those the ladder prescribes: one intent per notifying event,
  the newest of each clock's items always told, and the escalation tree (plan) reaching exactly
  the roles the shipped YAML lists for each step, with quiet hours never holding duty staff or
  grades I/II.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from incident_helpers import FIRE_TEXT_2, T0, classified, open_with, post

from monitor.domain import clocks, escalation
from monitor.domain.actions import ActionError, apply_action
from monitor.domain.escalation import Role, Step, Trigger
from monitor.domain.events import Event, EventKind, NotificationIntent
from monitor.domain.incidents import Decision, add_post
from monitor.domain.model import Grade
from monitor.domain.permissions import UserRole, authorize
from monitor.domain.policy import FUTURE_SKEW_S, IncidentParams
from monitor.domain.state import Action, ActionKind, IncidentState, Outcome
from monitor.notify.config import load_ladder

LADDER = load_ladder().ladder
PARAMS = IncidentParams()
URL = "https://www.ziyang.gov.cn/zwgk/1.html"
BODY = "市消防救援支队"
SEVERE = (Grade.I, Grade.II)

# The shipped YAML's routes, restated as the table a duty office would write down.
D, C, H, L, M, G = (Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT, Role.DEPARTMENT_HEAD,
                    Role.LEADER_IN_CHARGE, Role.MAIN_LEADER, Role.GOVERNMENT_OFFICE)  # fmt: skip


def ladder_roles(intent: NotificationIntent) -> set[Role]:
    if not intent.in_jurisdiction:
        return {D}
    if intent.step in (Step.OPENED, Step.REGRADED):
        return {D, C, L} if intent.grade in SEVERE else {D, C}
    if intent.step is Step.UNACKNOWLEDGED:
        return {D, H}
    if intent.step is Step.WARNING:
        return {D, C, L} if intent.warning_before_min == 60 else {D, C}
    assert intent.step is Step.BREACH
    return {D, M, G}


# --- the generated story -----------------------------------------------------------------------

minutes = st.integers(min_value=1, max_value=8 * 60)
grades = st.sampled_from([Grade.I, Grade.II, Grade.III, Grade.IV])
post_op = st.tuples(st.just("post"), minutes, grades, st.integers(0, 180), st.booleans())
tick_op = st.tuples(st.just("tick"), minutes)
answer_kinds = st.sampled_from(
    [ActionKind.ACKNOWLEDGE, ActionKind.RELEASE, ActionKind.PRESS_CONFERENCE,
     ActionKind.FOLLOW_UP, ActionKind.CLOSE, ActionKind.REGRADE]
)  # fmt: skip
# when it says it happened, relative to now: backdated by up to a day, prompt, or ahead
at_offsets = st.one_of(
    st.integers(-24 * 60, 0), st.just(0), st.integers(1, 15), st.just(-100 * 365 * 24 * 60)
)
answer_op = st.tuples(
    st.just("act"), minutes, answer_kinds, at_offsets,
    st.sampled_from([UserRole.DUTY, UserRole.DEPARTMENT]), grades, st.booleans(),
)  # fmt: skip
story = st.lists(st.one_of(post_op, tick_op, answer_op), max_size=25)


@dataclass
class Run:
    state: IncidentState
    now: datetime
    breached: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    actions: list[Action] = field(default_factory=list)
    posts: list[str] = field(default_factory=lambda: ["p0"])

    def take(self, out: Outcome, now: datetime) -> None:
        check_outcome(self, out, now)
        self.state = out.state


def check_outcome(run: Run, out: Outcome, now: datetime) -> None:
    for e in out.events:
        if e.kind is EventKind.DEADLINE_BREACHED:
            deadline = datetime.fromisoformat(str(e.data["deadline"]))
            assert deadline <= now, f"{e.id} breached at {now}, before its deadline {deadline}"
            assert e.at >= deadline
    for c in out.state.clocks:
        if c.status == "met":
            assert c.stopped_at is not None and c.stopped_at <= c.deadline, c
            assert c.id not in run.breached, f"{c.id} breached, then read met"
            assert f"{c.id}:breach" not in out.state.fired
    run.breached.update(f.removesuffix(":breach") for f in out.state.fired if f.endswith(":breach"))
    check_notifications(run, out)


def check_notifications(run: Run, out: Outcome) -> None:
    by_id = {e.id: e for e in out.events}
    for n in out.notifications:
        assert n.key == f"notify:{n.event_id}" and n.event_id in by_id
        assert n.key not in run.keys, f"{n.key} notified twice"
        run.keys.add(n.key)
        check_plan(n)
    told = {n.event_id for n in out.notifications}
    for e in out.events:
        if e.kind in (EventKind.OPENED, EventKind.UNACKNOWLEDGED):
            assert e.id in told
        if e.kind in (EventKind.ASSIGNED, EventKind.ACTION_RECORDED, EventKind.CLOSED):
            assert e.id not in told
        if e.kind is EventKind.GRADED:
            up = e.data["direction"] == "up" and e.data["to"] in ("I", "II")
            assert (e.id in told) is up
    # of one clock's items falling due together only the newest is told
    last: dict[str, Event] = {}
    for e in out.events:
        if "clock" in e.data:
            last[str(e.data["clock"])] = e
    told_clocks = [str(by_id[i].data["clock"]) for i in told if "clock" in by_id[i].data]
    assert sorted(told_clocks) == sorted(last), "a stale warning was told, or the newest not"
    for e in last.values():
        assert e.id in told, f"{e.id}: the newest item of its clock was not told"


def check_plan(n: NotificationIntent) -> None:
    trigger = Trigger(
        key=n.key, incident_id=n.incident_id, step=n.step, grade=n.grade, at=n.at,
        bodies=n.bodies, category=n.category, clock=n.clock,
        warning_before_min=n.warning_before_min, in_jurisdiction=n.in_jurisdiction,
    )  # fmt: skip
    p = escalation.plan(LADDER, trigger)
    reached = {r.role for d in p.deliveries for r in d.recipients}
    assert reached == ladder_roles(n), (n.step, n.warning_before_min, reached)
    for d in p.deliveries:
        urgent = n.grade in SEVERE or all(r.role is Role.DUTY_STAFF for r in d.recipients)
        if urgent:
            assert d.not_before == n.at, "quiet hours held duty staff or a grade I/II notice"


def step_post(run: Run, op: tuple[object, ...]) -> None:
    _, dt, grade, age, duplicate = op
    run.now += timedelta(minutes=int(str(dt)))
    pid = run.posts[-1] if duplicate else f"p{len(run.posts)}"
    run.posts.append(pid)
    t = max(run.now - timedelta(minutes=int(str(age))), T0 - timedelta(hours=3))
    p = msgspec.structs.replace(post(pid, FIRE_TEXT_2), published_at=t, observed_at=run.now)
    decision = Decision(action="join", key=run.state.key, incident_id=run.state.id)
    cls = classified(pid, grade=grade)  # type: ignore[arg-type]
    run.take(add_post(run.state, p, cls, PARAMS, decision=decision), run.now)


def step_act(run: Run, op: tuple[object, ...], n: int) -> None:
    _, dt, kind, offset, role, grade, repeat = op
    run.now += timedelta(minutes=int(str(dt)))
    kind = ActionKind(str(kind))
    role = UserRole(str(role))
    if authorize(role, BODY if role is UserRole.DEPARTMENT else None, kind, run.state):
        assert role is UserRole.DEPARTMENT and kind in (ActionKind.CLOSE, ActionKind.REGRADE)
        return  # the API and the CLI refuse it before it reaches the domain
    if repeat and run.actions:
        action = run.actions[-1]  # the same answer again (a retry): applied once
    else:
        at = run.now + timedelta(minutes=int(str(offset)))
        action = Action(id=f"a{n}", incident_id=run.state.id, kind=kind.value, by=role.value,
                        at=at, url=URL, place="市政府新闻发布厅", grade=grade,  # type: ignore[arg-type]
                        reason="核实")  # fmt: skip
    before = run.state
    try:
        out = apply_action(run.state, action, run.now)
    except ActionError as exc:
        assert_refusal_is_right(before, action, run.now, exc)
        return
    assert before.first_seen <= action.at <= run.now + timedelta(seconds=FUTURE_SKEW_S)
    if not before.has_action(action.id):
        run.actions.append(action)
    run.take(out, run.now)
    if kind is ActionKind.CLOSE and not before.has_action(action.id):
        for c in run.state.clocks:
            was = next((b.status for b in before.clocks if b.id == c.id), "running")
            assert c.status != "met" or was == "met", "closing met a clock"


def assert_refusal_is_right(
    state: IncidentState, action: Action, now: datetime, exc: ActionError
) -> None:
    if exc.field == "at":
        too_early = action.at < state.first_seen
        too_late = action.at > now + timedelta(seconds=FUTURE_SKEW_S)
        assert too_early or too_late, str(exc)
        return
    assert exc.field == "incident_id" and not state.status.live, str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grade=grades, ops=story)
def test_clocks_and_notifications_hold_their_rules(grade: Grade, ops: list[tuple[object, ...]]):
    first = open_with(post("p0"), classified("p0", grade=grade))
    run = Run(state=first.state, now=T0)
    check_outcome(run, first, T0)
    for n, op in enumerate(ops):
        if op[0] == "post":
            step_post(run, op)
        elif op[0] == "tick":
            run.now += timedelta(minutes=int(str(op[1])))
            run.take(clocks.evaluate(run.state, run.now), run.now)
        else:
            step_act(run, op, n)
    run.now += timedelta(days=4)
    run.take(clocks.evaluate(run.state, run.now), run.now)
