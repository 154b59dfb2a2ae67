"""Response clocks with a fake clock: every rule of DESIGN.md §1–§2, decided by `now` alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import pytest
from incident_helpers import (
    FIRE_TEXT_2,
    PARAMS,
    T0,
    action,
    at,
    classified,
    ids,
    join,
    kinds,
    open_with,
    post,
)

from monitor.config import ConfigError, clocks_params, incident_params
from monitor.config.sections import _seconds
from monitor.domain import clocks
from monitor.domain.actions import apply_action
from monitor.domain.escalation import Step
from monitor.domain.events import EventKind
from monitor.domain.model import Grade
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState


def opened(grade: Grade | None, params: IncidentParams = PARAMS) -> IncidentState:
    return open_with(post("p1"), classified("p1", grade=grade), params).state


def deadlines(state: IncidentState) -> dict[str, float]:
    return {c.rule: (c.deadline - T0) / timedelta(hours=1) for c in state.clocks}


def fired_suffixes(state: IncidentState, now_h: float) -> list[str]:
    out = clocks.evaluate(state, at(now_h))
    return [e.id.removeprefix(state.id + ":") for e in out.events]


@pytest.mark.parametrize(
    ("grade", "expected"),
    [
        (Grade.I, {"release": 5, "press_conference": 24, "follow_up": 24}),
        (Grade.II, {"release": 5, "press_conference": 24, "follow_up": 24}),
        (Grade.III, {"answer": 48}),
        (Grade.IV, {"answer": 48}),
        (None, {"answer": 48}),  # no grade read from the text is 一般 (IV)
    ],
)
def test_clocks_start_at_first_post_and_follow_the_grade(grade, expected):
    state = opened(grade)
    assert deadlines(state) == expected
    assert all(c.start == T0 and c.status == "running" for c in state.clocks)


@pytest.mark.parametrize(
    ("grade", "now_h", "expected"),
    [
        (Grade.II, 0.49, []),
        (Grade.II, 0.5, ["unacknowledged"]),
        (Grade.II, 2.99, ["unacknowledged"]),
        (Grade.II, 3, ["unacknowledged", "release#0:warning:7200s"]),
        (
            Grade.II,
            4.5,
            ["unacknowledged", "release#0:warning:7200s", "release#0:warning:3600s",
             "release#0:warning:1800s"],
        ),
        (
            Grade.II,
            20,
            ["unacknowledged", "release#0:warning:7200s", "release#0:warning:3600s",
             "release#0:warning:1800s", "release#0:breach", "follow_up#0:warning:14400s",
             "press_conference#0:warning:14400s"],
        ),
        (Grade.III, 43.9, ["unacknowledged"]),
        (Grade.III, 44, ["unacknowledged", "answer#0:warning:14400s"]),
        (
            Grade.IV,
            48,
            ["unacknowledged", "answer#0:warning:14400s", "answer#0:warning:3600s", "answer#0:breach"],
        ),
    ],
)  # fmt: skip
def test_warnings_and_breach_fire_when_due(grade, now_h, expected):
    assert fired_suffixes(opened(grade), now_h) == expected


def test_breach_event_is_at_the_deadline_and_carries_the_clock():
    out = clocks.evaluate(opened(Grade.II), at(6))
    breach = next(e for e in out.events if e.kind is EventKind.DEADLINE_BREACHED)
    assert breach.at == at(5)
    assert breach.data["rule"] == "release"
    assert datetime.fromisoformat(breach.data["deadline"]) == at(5)
    assert breach.data["late"] is False
    assert out.state.clocks[0].status == "breached"


def test_evaluate_twice_with_the_same_now_emits_nothing_new():
    first = clocks.evaluate(opened(Grade.II), at(4.5))
    assert len(first.events) == 4
    again = clocks.evaluate(first.state, at(4.5))
    assert again.events == () and again.notifications == ()
    assert again.state == first.state
    later = clocks.evaluate(first.state, at(5))
    assert ids(later.events) == [f"{first.state.id}:release#0:breach"]


def test_evaluating_in_steps_equals_evaluating_at_once():
    state = opened(Grade.II)
    stepped, events = state, []
    for h in range(0, 80):
        out = clocks.evaluate(stepped, at(h))
        stepped, events = out.state, events + list(out.events)
    at_once = clocks.evaluate(state, at(79))
    assert ids(events) == ids(at_once.events)
    assert stepped.fired == at_once.state.fired


def test_next_due_is_the_earliest_pending_item():
    state = opened(Grade.II)
    assert clocks.next_due(state) == at(0.5)  # unacknowledged escalation
    state = clocks.evaluate(state, at(0.5)).state
    assert clocks.next_due(state) == at(3)
    state = clocks.evaluate(state, at(5)).state
    assert clocks.next_due(state) == at(20)


def test_a_release_stops_the_five_hour_clock_only():
    state = opened(Grade.II)
    state = clocks.evaluate(state, at(4)).state
    rel = action("release", "a1", 4, 10, incident=state.id, url="https://www.ziyang.gov.cn/x")
    state = apply_action(state, rel, at(4, 20)).state
    later = clocks.evaluate(state, at(30))
    suffixes = [e.id.removeprefix(state.id + ":") for e in later.events]
    assert not any(s.startswith("release#0") for s in suffixes)
    assert "press_conference#0:warning:14400s" in suffixes  # the 24 h clock still runs
    assert "press_conference#0:breach" in suffixes
    release = next(c for c in later.state.clocks if c.rule == "release")
    assert release.status == "met" and release.stopped_at == at(4, 10)


def test_breaches_are_permanent_facts():
    state = clocks.evaluate(opened(Grade.II), at(6)).state
    late = action("release", "a1", 6, incident=state.id, url="https://www.ziyang.gov.cn/x")
    out = apply_action(state, late, at(6))
    assert f"{state.id}:release#0:breach" in out.state.fired
    release = next(c for c in out.state.clocks if c.rule == "release")
    assert release.status == "late"
    assert out.events[-1].data["late"] == [f"{state.id}:release#0"]


def upgrade(state: IncidentState, hours: float, grade: Grade = Grade.II):
    return join(state, post("p-up", FIRE_TEXT_2, hours), classified("p-up", grade=grade))


def test_upgrade_after_a_past_deadline_keeps_the_start_and_breaches_at_once():
    state = clocks.evaluate(opened(Grade.IV), at(6)).state
    out = upgrade(state, 6)
    assert kinds(out.events)[:2] == ["assigned", "graded"]
    fired = [e for e in out.events if e.kind.value.startswith("deadline")]
    assert [e.id.removeprefix(state.id + ":") for e in fired] == [
        "release#0:warning:7200s", "release#0:warning:3600s", "release#0:warning:1800s",
        "release#0:breach",
    ]  # fmt: skip
    assert all(e.at == at(6) and e.data["late"] is True for e in fired)
    assert deadlines(out.state)["release"] == 5  # the original start, not the upgrade time
    assert clocks.evaluate(out.state, at(6)).events == ()  # once each


def test_upgrade_near_a_deadline_fires_due_warnings_now_and_the_rest_on_time():
    state = opened(Grade.III)
    out = upgrade(state, 4.25)
    warned = [
        e.id.removeprefix(state.id + ":") for e in out.events if e.kind.value.startswith("deadline")
    ]
    assert warned == ["release#0:warning:7200s", "release#0:warning:3600s"]
    rest = clocks.evaluate(out.state, at(5))
    assert [e.id.removeprefix(state.id + ":") for e in rest.events] == [
        "release#0:warning:1800s",
        "release#0:breach",
    ]
    assert [e.at for e in rest.events] == [at(4.5), at(5)]


def test_upgrade_is_a_regraded_step_with_the_new_clocks():
    out = upgrade(opened(Grade.IV), 1)
    regraded = [n for n in out.notifications if n.step is Step.REGRADED]
    assert len(regraded) == 1 and regraded[0].grade is Grade.II
    assert {c.rule for c in regraded[0].clocks} == {"release", "press_conference", "follow_up"}
    assert out.state.grades.fact is Grade.II


def test_start_at_reached_grade_option():
    params = clocks_params({"start": "reached_grade"})
    state = opened(Grade.IV, params)
    out = upgrade(state, 10)
    assert deadlines(out.state) == {"release": 15, "press_conference": 34, "follow_up": 34}
    assert not any(e.kind is EventKind.DEADLINE_BREACHED for e in out.events)
    assert out.state.severe_since == at(10)


def test_follow_up_every_24_hours_while_open():
    state = opened(Grade.II)
    sid = state.id
    state = apply_action(
        state, action("release", "r", 2, incident=sid, url="https://a.cn/1"), at(2)
    ).state
    assert deadlines(state)["follow_up"] == 26
    state = apply_action(
        state, action("follow_up", "f", 20, incident=sid, url="https://a.cn/2"), at(20)
    ).state
    assert deadlines(state)["follow_up"] == 44
    out = clocks.evaluate(state, at(69))
    follow = [e.id.removeprefix(sid + ":") for e in out.events if "follow_up" in e.id]
    assert follow == [
        "follow_up#2:warning:14400s", "follow_up#2:warning:3600s", "follow_up#2:breach",
        "follow_up#3:warning:14400s", "follow_up#3:warning:3600s", "follow_up#3:breach",
    ]  # fmt: skip
    assert deadlines(out.state)["follow_up"] == 92  # a missed one re-arms from its deadline


def test_answer_clock_for_grade_three_stops_on_release():
    state = opened(Grade.III)
    rel = action("release", "r", 30, incident=state.id, url="https://a.cn/1", channel="资阳发布")
    out = apply_action(state, rel, at(30))
    later = clocks.evaluate(out.state, at(60))
    assert not any("answer" in e.id for e in later.events)
    assert out.state.clocks[0].status == "met"


@pytest.mark.parametrize(
    ("ack_minutes", "escalated"), [(20, False), (30, False), (31, True), (None, True)]
)
def test_unacknowledged_after_thirty_minutes_goes_to_the_department_head(ack_minutes, escalated):
    state = opened(Grade.III)
    notes = []
    if ack_minutes is not None:
        ack = action("acknowledge", "ack", 0, ack_minutes, incident=state.id)
        acked = apply_action(state, ack, at(0, ack_minutes))
        state, notes = acked.state, list(acked.notifications)
    notes += clocks.evaluate(state, at(1)).notifications
    unack = [n for n in notes if n.step is Step.UNACKNOWLEDGED]
    assert bool(unack) is escalated
    if escalated:
        assert unack[0].unacknowledged_after_min == 30


@pytest.mark.parametrize(
    ("now_h", "told"),
    [
        (3.1, ["release#0:warning:7200s"]),
        (4.1, ["release#0:warning:3600s"]),  # T-2h and T-1h due together: only the newest
        (4.6, ["release#0:warning:1800s"]),
        (5, ["release#0:breach"]),  # a breach makes the warnings before it stale
    ],
)
def test_one_notice_per_clock_when_items_fall_due_together(now_h, told):
    """main: after a restart T-2h, T-1h and T-30min went out in the same second."""
    state = clocks.evaluate(opened(Grade.II), at(1)).state  # the unacknowledged escalation
    out = clocks.evaluate(state, at(now_h))
    assert [n.key.removeprefix(f"notify:{state.id}:") for n in out.notifications] == told
    fired = [e for e in out.events if "release" in e.id]
    assert len(fired) >= len(told)  # every item is still an event: the record is complete
    intent = out.notifications[0]
    assert intent.bodies == ("市消防救援支队", "安岳县人民政府")
    assert intent.clock == "release" and intent.deadline == at(5)
    assert {c.rule for c in intent.clocks} == {"release", "press_conference", "follow_up"}


def test_policy_is_frozen_at_open():
    running = opened(Grade.II)
    edited = clocks_params({"release": {"after": "8h"}})
    assert edited.clocks.version != running.policy_version
    # a post arriving under the edited config does not move the running deadline
    out = join(running, post("p2", FIRE_TEXT_2, 1), classified("p2", grade=Grade.II), edited)
    assert deadlines(out.state)["release"] == 5
    assert out.state.policy_version == running.policy_version
    assert deadlines(opened(Grade.II, edited))["release"] == 8


def test_state_survives_a_serialisation_round_trip():
    state = clocks.evaluate(opened(Grade.II), at(3)).state
    for codec in (msgspec.json, msgspec.msgpack):
        back = codec.decode(codec.encode(state), type=IncidentState)
        assert back == state
        assert clocks.evaluate(back, at(6)) == clocks.evaluate(state, at(6))


def test_closed_incident_has_no_due_items():
    state = opened(Grade.II)
    state = apply_action(state, action("close", "c", 1, incident=state.id), at(1)).state
    assert clocks.next_due(state) is None
    assert clocks.evaluate(state, at(100)).events == ()
    # closing meets no clock (main said "met" for all three)
    assert {c.status for c in state.clocks} == {"not_done"}


# --- config -----------------------------------------------------------------------------------


def test_defaults_from_the_design():
    p = clocks_params({})
    rules = {r.name: (r.after_s, r.warnings_s) for r in p.clocks.rules}
    assert rules == {
        "release": (5 * 3600, (7200, 3600, 1800)),
        "press_conference": (24 * 3600, (14400, 3600)),
        "follow_up": (24 * 3600, (14400, 3600)),
        "answer": (48 * 3600, (14400, 3600)),
    }
    assert p == IncidentParams()


def test_a_full_config_section_is_read():
    p = clocks_params(
        {
            "version": "2024-05",
            "start": "reached_grade",
            "release": {"after": "4h", "warnings": ["1h", "15min"]},
            "answer": {"after": 36 * 3600},
            "unacknowledged_after": "20m",
            "heat": {"window": "30m", "III": {"posts": 5}},
            "incidents": {"window": "48h", "similarity": 0.3, "families": {"acc": ["fire", "work_safety"]}},
        }
    )  # fmt: skip
    assert p.clocks.version == "2024-05" and p.clocks.start == "reached_grade"
    assert p.clocks.rule("release").after_s == 4 * 3600
    assert p.clocks.rule("release").warnings_s == (3600, 900)
    assert p.clocks.rule("answer").after_s == 36 * 3600
    assert p.clocks.unacknowledged_after_s == 1200
    assert p.heat.window_s == 1800 and p.heat.rules[0].posts == 5
    assert p.assign.window_s == 48 * 3600 and p.assign.family("work_safety") == "acc"


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"relase": {"after": "5h"}}, "clocks.relase"),
        ({"release": {"after": "five hours"}}, "clocks.release.after"),
        ({"release": {"after": "5 hours"}}, "clocks.release.after"),  # main: OK, then failed
        ({"leader_warning": "1h"}, "clocks.leader_warning"),  # the escalation file's now
        ({"release": {"after": "-5h"}}, "clocks.release.after"),
        ({"release": {"warnings": ["6h"]}}, "clocks.release.warnings[0]"),
        ({"release": {"warnings": "1h"}}, "clocks.release.warnings"),
        ({"answer": {"grades": ["V"]}}, "clocks.answer.grades[0]"),
        ({"answer": {"stopped_by": ["tweet"]}}, "clocks.answer.stopped_by[0]"),
        ({"start": "whenever"}, "clocks.start"),
        ({"heat": {"I": {"posts": 10}}}, "clocks.heat.I"),
        ({"heat": {"III": {}}}, "clocks.heat.III"),
        ({"heat": {"III": {"posts": -1}}}, "clocks.heat.III.posts"),
        ({"incidents": {"similarity": 2}}, "clocks.incidents.similarity"),
        ({"incidents": {"families": {"a": ["fire"], "b": ["fire"]}}}, "clocks.incidents.families.b[0]"),
        ({"unacknowledged_after": True}, "clocks.unacknowledged_after"),
    ],
)  # fmt: skip
def test_bad_config_names_the_path(section, path):
    with pytest.raises(ConfigError) as err:
        clocks_params(section)
    assert [i.path for i in err.value.issues] == [path]
    assert err.value.issues[0].reason


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5h", 18000), ("30m", 1800), ("30min", 1800), ("1h30m", 5400), (90, 90), ("2d", 172800)],
)
def test_durations(text, seconds):
    assert _seconds(text) == seconds


def test_shipped_city_config_clocks_section_is_valid():
    from monitor.config import load_config

    cfg = load_config()
    params = incident_params(cfg)
    assert params == IncidentParams()  # the file spells out the defaults, truthfully
