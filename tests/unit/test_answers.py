"""Answers that keep their meaning (issue 10 item 2), on the pure domain with a fake clock.

Each case names what main did: a department closed its own breached incident as "met", a
release dated 2000-01-01 was accepted, closing met every clock, a regrade down did nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from incident_helpers import OTHER_FIRE, action, at, classified, join, open_with, post

from monitor.domain import clocks
from monitor.domain.actions import ActionError, apply_action, merge, validate
from monitor.domain.model import Grade
from monitor.domain.permissions import RULES, UserRole, authorize, evidence_missing
from monitor.domain.state import ActionKind, IncidentState

URL = "https://www.ziyang.gov.cn/zwgk/1.html"
BODY = "市消防救援支队"  # the fire's lead body in incident_helpers.BODIES


def incident(grade: Grade = Grade.II) -> IncidentState:
    return open_with(post("p1"), classified("p1", grade=grade)).state


def status(state: IncidentState, rule: str) -> str:
    return next(c.status for c in state.clocks if c.rule == rule)


def breached_at_6h(state: IncidentState) -> IncidentState:
    out = clocks.evaluate(state, at(6))
    assert status(out.state, "release") == "breached"
    return out.state


# --- who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "body", "kind", "allowed"),
    [
        (UserRole.DEPARTMENT, BODY, ActionKind.CLOSE, False),  # main: a department closed
        (UserRole.DEPARTMENT, BODY, ActionKind.REGRADE, False),  # main: IV → I by a department
        (UserRole.DEPARTMENT, BODY, ActionKind.MERGE, False),
        (UserRole.DEPARTMENT, BODY, ActionKind.SPLIT, False),
        (UserRole.DEPARTMENT, BODY, ActionKind.RELEASE, True),
        (UserRole.DEPARTMENT, BODY, ActionKind.ACKNOWLEDGE, True),
        (UserRole.DEPARTMENT, BODY, ActionKind.PRESS_CONFERENCE, True),
        (UserRole.DEPARTMENT, BODY, ActionKind.FOLLOW_UP, True),
        (UserRole.DEPARTMENT, "市教育和体育局", ActionKind.RELEASE, False),  # not its incident
        (UserRole.DEPARTMENT, None, ActionKind.ACKNOWLEDGE, False),
        (UserRole.LEADER, None, ActionKind.ACKNOWLEDGE, False),
        (UserRole.DUTY, None, ActionKind.CLOSE, True),
        (UserRole.DUTY, None, ActionKind.RELEASE, True),  # on the body's behalf
        (UserRole.ADMIN, None, ActionKind.REGRADE, True),
    ],
)
def test_authorize_follows_the_design_table(role, body, kind, allowed):
    refusal = authorize(role, body, kind, incident())
    assert (refusal is None) is allowed
    if refusal is not None:
        assert refusal.zh and refusal.en and "forbidden" in refusal.message


def test_every_action_kind_has_one_rule() -> None:
    assert set(RULES) == set(ActionKind)


@pytest.mark.parametrize(
    ("kind", "fields", "says"),
    [
        (ActionKind.RELEASE, {}, "`url`"),
        (ActionKind.PRESS_CONFERENCE, {"url": " "}, "`url` or `place`"),
        (ActionKind.CLOSE, {}, "`reason`"),
        (ActionKind.MERGE, {"target": "X"}, "`reason`"),
        (ActionKind.SPLIT, {"reason": "r", "post_ids": ()}, "`post_ids`"),
        (ActionKind.REGRADE, {"grade": Grade.I}, "`reason`"),
    ],
)
def test_evidence_each_kind_needs(kind, fields, says):
    missing = evidence_missing(kind, fields)
    assert missing is not None and says in missing


# --- `at` between the first post and now + skew --------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [datetime(2000, 1, 1, tzinfo=UTC), datetime.fromtimestamp(12345, UTC), at(-0.01)],
    ids=["2000-01-01", "12345", "before-first-post"],
)
def test_a_release_dated_before_the_first_post_is_refused(when):
    state = incident()
    a = action("release", "r", incident=state.id, url=URL)
    a = msgspec.structs.replace(a, at=when)
    with pytest.raises(ActionError, match="before the incident's first post") as err:
        apply_action(state, a, at(1))
    assert err.value.field == "at"


def test_at_may_be_ahead_of_now_by_the_skew_only():
    state = incident()
    within = action("acknowledge", "a", 1, 4, incident=state.id)  # 4 min ahead of now
    assert apply_action(state, within, at(1)).state.acknowledged_at == at(1, 4)
    beyond = action("acknowledge", "b", 1, 6, incident=state.id)
    with pytest.raises(ActionError, match="in the future"):
        apply_action(state, beyond, at(1))
    # the skew is a parameter (config clocks.future_skew)
    apply_action(state, beyond, at(1), skew_s=600)


# --- backdated answers -----------------------------------------------------------------------


def test_a_backdated_answer_is_kept_and_marked_with_when_it_was_recorded():
    state = incident()
    out = apply_action(
        state, action("release", "r", 3, incident=state.id, url=URL), at(4), recorded_at=at(4)
    )
    recorded = out.events[-1]
    assert recorded.at == at(3)  # its own time is kept
    assert recorded.data["backdated"] is True
    assert recorded.data["recorded_at"] == at(4).astimezone(UTC).isoformat()
    assert status(out.state, "release") == "met"  # before its deadline, before any breach
    prompt = apply_action(
        state, action("release", "q", 3, incident=state.id, url=URL), at(3, 4)
    ).events[-1]
    assert prompt.data["backdated"] is False  # entered within the skew


def test_a_department_cannot_turn_its_breach_into_met():
    """main: a release entered at 6 h dated 4 h made the breached 5 h clock "已按时完成"."""
    state = breached_at_6h(incident())
    out = apply_action(state, action("release", "r", 4, incident=state.id, url=URL), at(6, 5))
    release = next(c for c in out.state.clocks if c.rule == "release")
    assert (release.status, release.stopped_at) == ("late", at(4))
    assert out.events[-1].data["backdated"] is True
    assert out.events[-1].data["late"] == [f"{state.id}:release#0"]


def test_a_backdated_answer_entered_after_the_deadline_is_late_in_a_replay_too():
    """Replay: nothing ticked the clocks between the post and the answer; the answer's recorded
    time (which travels with it) decides, so the replay says late as live did."""
    state = incident()  # last evaluated at open
    out = apply_action(state, action("release", "r", 4, incident=state.id, url=URL), at(6))
    assert status(out.state, "release") == "late"
    assert f"{state.id}:release#0:breach" in out.state.fired


def test_a_backdated_acknowledgement_does_not_unsend_the_escalation():
    state = incident(Grade.IV)
    out = apply_action(state, action("acknowledge", "a", 0, 10, incident=state.id), at(1))
    assert [n.step.value for n in out.notifications] == ["unacknowledged"]


# --- closing never meets a clock ---------------------------------------------------------------


def test_closing_with_no_release_meets_nothing():
    """main: closing with no release marked all three clocks met."""
    state = incident()
    out = apply_action(state, action("close", "c", 2, incident=state.id), at(2))
    assert {c.rule: c.status for c in out.state.clocks} == {
        "release": "not_done", "press_conference": "not_done", "follow_up": "not_done",
    }  # fmt: skip


def test_closing_a_breached_incident_keeps_the_breach_even_when_dated_early():
    """main: a close dated first post + 2 min turned the breached release clock into met."""
    state = breached_at_6h(incident())
    out = apply_action(state, action("close", "c", 0, 2, incident=state.id), at(6, 10))
    assert status(out.state, "release") == "breached"
    assert status(out.state, "press_conference") == "not_done"


def test_a_merged_away_incidents_clocks_are_excluded():
    a = incident()
    b = open_with(post("q1", OTHER_FIRE, 1), classified("q1", grade=Grade.II)).state
    source, target = merge(b, a, action("merge", "m", 2, incident=b.id, target=a.id), at(2))
    assert {c.status for c in source.state.clocks} == {"excluded"}
    assert {c.status for c in target.state.clocks} == {"running"}


# --- manual regrade (moved here from issue 13) ---------------------------------------------------


def regrade(state: IncidentState, grade: Grade, aid: str, hours: float):
    a = action("regrade", aid, hours, incident=state.id, grade=grade, reason="核实")
    return apply_action(state, a, at(hours))


def test_a_manual_regrade_down_holds_until_graver_evidence():
    """main: lowering answered 已登记 and the grade stayed (grade = max of fact, heat, manual)."""
    state = regrade(incident(Grade.II), Grade.III, "g1", 1).state
    assert state.grade is Grade.III
    assert {c.rule for c in state.clocks} == {"answer"}  # 48 h, not 5 h
    # a later post with the same evidence (grade II, as known at the regrade) does not undo it
    same = join(state, post("p2", hours=2), classified("p2", grade=Grade.II)).state
    assert same.grade is Grade.III
    # graver evidence than was known (grade I facts) does
    graver = join(same, post("p3", hours=3), classified("p3", grade=Grade.I)).state
    assert graver.grade is Grade.I


def test_a_manual_regrade_up_holds_against_lesser_evidence():
    state = regrade(incident(Grade.IV), Grade.II, "g1", 1).state
    assert state.grade is Grade.II
    more = join(state, post("p2", hours=2), classified("p2", grade=Grade.III)).state
    assert more.grade is Grade.II  # III is graver than the IV known, but II stands above it


def test_a_regrade_down_keeps_a_breach_in_view():
    state = breached_at_6h(incident())
    down = regrade(state, Grade.IV, "g1", 6.5).state
    assert status(down, "release") == "breached"
    assert status(down, "answer") == "running"


def test_regrade_needs_a_reason():
    state = incident()
    a = action("regrade", "g", 1, incident=state.id, grade=Grade.IV)
    with pytest.raises(ActionError, match="`reason`"):
        apply_action(state, a, at(1))


def test_at_is_checked_against_the_earliest_post_known():
    state = incident()
    earlier = join(state, post("p0", hours=-2), classified("p0")).state
    ok = action("acknowledge", "a", -1, incident=state.id)
    assert apply_action(earlier, ok, at(1)).state.acknowledged_at == at(-1)
    assert earlier.first_seen == at(-2) < at(-1) < state.first_seen
    assert timedelta(0) < state.first_seen - at(-1)


def test_a_reason_is_asked_of_new_closes_but_an_archived_one_still_replays():
    """Archives from before the reason was asked hold closes, merges and splits without one;
    refusing them on replay would lose what duty staff did."""
    state = incident()
    old = msgspec.structs.replace(action("close", "c", 1, incident=state.id), reason=None)
    with pytest.raises(ActionError, match="`reason`"):
        validate(state, old, at(1), new=True)  # what the API and CLI ask
    assert apply_action(state, old, at(1)).state.status.value == "closed"
