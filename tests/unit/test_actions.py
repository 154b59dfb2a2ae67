"""Actions: validation, idempotency, effects on clocks, merge and split; and replay determinism."""

from __future__ import annotations

from datetime import UTC, timedelta

import msgspec
import pytest
from incident_helpers import (
    FIRE_TEXT_2,
    OTHER_FIRE,
    action,
    at,
    classified,
    ids,
    join,
    kinds,
    open_with,
    post,
)

from monitor.domain import clocks
from monitor.domain.actions import ActionError, apply_action, merge, split, unknown_incident
from monitor.domain.events import EventKind, Step
from monitor.domain.model import Grade
from monitor.domain.state import Action, IncidentState, Outcome, Status

URL = "https://www.ziyang.gov.cn/zwgk/1.html"


def incident(grade: Grade | None = Grade.II) -> IncidentState:
    return open_with(post("p1"), classified("p1", grade=grade)).state


def act(state: IncidentState, kind: str, aid: str, hours: float, now_h: float | None = None, **kw):
    a = action(kind, aid, hours, incident=state.id, **kw)
    return apply_action(state, a, at(hours if now_h is None else now_h))


def closed() -> IncidentState:
    return act(incident(), "close", "c", 1).state


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (lambda s: action("release", "a", 1, incident=s.id), "url", "release needs `url`"),
        (lambda s: action("release", "a", 1, incident=s.id, url="www.x.cn"), "url", "not an http(s) URL"),
        (lambda s: action("follow_up", "a", 1, incident=s.id, url=" "), "url", "required"),
        (lambda s: action("press_conference", "a", 1, incident=s.id), "url", "required"),
        (lambda s: action("release", "a", 3, incident=s.id, url=URL), "at", "in the future"),
        (lambda s: action("tweet", "a", 1, incident=s.id), "kind", "unknown action 'tweet'"),
        (lambda s: action("acknowledge", "a", 1, incident="other"), "incident_id", "this is incident"),
        (lambda s: msgspec.structs.replace(action("acknowledge", "a", 1, incident=s.id), by=" "), "by", "named"),
        (lambda s: msgspec.structs.replace(action("acknowledge", "a", 1, incident=s.id), at=at(1).replace(tzinfo=None)), "at", "no time zone"),
        (lambda s: action("regrade", "a", 1, incident=s.id, grade=Grade.I), "reason", "regrade needs `reason`"),
        (lambda s: action("regrade", "a", 1, incident=s.id, reason="x"), "grade", "regrade needs `grade`"),
        (lambda s: action("merge", "a", 1, incident=s.id, target="B"), "kind", "actions.merge()"),
    ],
)  # fmt: skip
def test_bad_actions_are_refused_with_a_clear_error_and_no_change(build, field, message):
    state = incident()
    bad = build(state)
    with pytest.raises(ActionError) as err:
        apply_action(state, bad, at(2))
    assert err.value.field == field and message in str(err.value)
    assert bad.id in str(err.value)
    # nothing was recorded: the same id is still free for a good action
    good = apply_action(state, action("acknowledge", "a", 1, incident=state.id), at(2))
    assert kinds(good.events)[-1] == "action_recorded"


def test_merge_into_itself_is_refused():
    state = incident()
    with pytest.raises(ActionError, match="another incident"):
        merge(state, state, action("merge", "m", 1, incident=state.id, target=state.id), at(2))


@pytest.mark.parametrize("kind", ["acknowledge", "release", "close", "regrade"])
def test_no_action_on_a_closed_incident(kind):
    state = closed()
    a = action(kind, "late", 2, incident=state.id, url=URL, grade=Grade.I, reason="r")
    with pytest.raises(ActionError, match="incident is closed"):
        apply_action(state, a, at(2))


def test_a_duplicate_id_is_applied_once():
    state = incident()
    first = act(state, "release", "r1", 2, url=URL, channel="资阳发布")
    again = apply_action(
        first.state,
        action("release", "r1", 2, incident=state.id, url=URL, channel="资阳发布"),
        at(3),
    )
    assert again.state == first.state and again.events == () and again.notifications == ()
    # also after the incident was closed: a retried close is not an error
    done = act(first.state, "close", "c1", 3)
    assert act(done.state, "close", "c1", 3).events == ()


def test_an_id_reused_for_another_action_is_refused():
    state = act(incident(), "release", "r1", 2, url=URL).state
    with pytest.raises(ActionError, match="already used"):
        act(state, "release", "r1", 2, url=URL + "?v=2")


def test_acknowledge_moves_to_responding():
    out = act(incident(), "acknowledge", "a1", 0.25)
    assert out.state.status is Status.RESPONDING and out.state.acknowledged_at == at(0.25)
    assert out.events[-1].data == {
        "action_id": "a1",
        "action": "acknowledge",
        "by": "市应急管理局 张三",
        "recorded_at": at(0.25).astimezone(UTC).isoformat(),
        "backdated": False,
    }


@pytest.mark.parametrize(
    ("release_h", "breached"),
    [(4 + 10 / 60, False), (5, False), (5.01, True)],
)
def test_release_at_4h10_or_at_the_deadline_is_in_time(release_h, breached):
    state = incident()
    out = act(state, "release", "r", release_h, url=URL, channel="资阳发布")
    later = clocks.evaluate(out.state, at(30))
    all_ids = ids(out.events) + ids(later.events)
    assert (f"{state.id}:release#0:breach" in all_ids) is breached
    assert f"{state.id}:press_conference#0:warning:14400s" in all_ids


def test_release_at_4h30_stops_5h_but_press_conference_warning_still_fires():
    state = incident()
    out = act(state, "release", "r", 4.5, url=URL)
    assert out.events[-1].data["stopped"] == [f"{state.id}:release#0", f"{state.id}:follow_up#0"]
    later = clocks.evaluate(out.state, at(21))
    assert [n.clock for n in later.notifications if n.step is Step.WARNING] == ["press_conference"]


def test_a_late_entered_release_catches_the_clocks_up_first():
    state = incident()  # last evaluated at open
    out = act(state, "release", "r", 5.5, now_h=6, url=URL)
    assert kinds(out.events) == [
        "unacknowledged", "deadline_warning", "deadline_warning", "deadline_warning",
        "deadline_breached", "action_recorded",
    ]  # fmt: skip
    assert out.events[-1].data["late"] == [f"{state.id}:release#0"]


def test_press_conference_stops_the_24h_clock_and_a_running_release_clock():
    state = incident()
    out = act(state, "press_conference", "pc", 3, place="市政府新闻发布厅")
    views = {c.rule: c.status for c in out.state.clocks}
    assert views == {"release": "met", "press_conference": "met", "follow_up": "running"}


def test_close_stops_every_clock():
    out = act(incident(), "close", "c", 1, reason="已处置完毕")
    assert kinds(out.events)[-2:] == ["action_recorded", "closed"]
    assert out.state.status is Status.CLOSED and clocks.next_due(out.state) is None
    assert clocks.evaluate(out.state, at(100)).events == ()


def test_regrade_raises_the_grade_with_its_reason_and_switches_clocks():
    state = incident(Grade.IV)
    out = act(state, "regrade", "g", 1, grade=Grade.II, reason="涉及学校，舆论关注度高")
    assert (
        out.state.grade is Grade.II and out.state.grades.manual_reason == "涉及学校，舆论关注度高"
    )
    assert kinds(out.events) == ["unacknowledged", "action_recorded", "graded"]
    assert {c.rule for c in out.state.clocks} == {"release", "press_conference", "follow_up"}
    assert [n.step for n in out.notifications] == [Step.UNACKNOWLEDGED, Step.REGRADED]


def test_a_manual_regrade_down_takes_effect():
    # main: the grade was the graver of fact, heat and manual, so lowering it did nothing
    out = act(incident(Grade.II), "regrade", "g", 1, grade=Grade.IV, reason="误判")
    assert out.state.grade is Grade.IV
    graded = [e for e in out.events if e.kind.value == "graded"]
    assert graded[-1].data["direction"] == "down" and graded[-1].data["manual"] == "IV"


def test_merge_keeps_what_the_absorbed_incident_already_published():
    a = incident(Grade.II)
    b = open_with(post("q1", OTHER_FIRE, 1), classified("q1", grade=Grade.II)).state
    b = act(b, "release", "r", 3, url=URL).state
    m = action("merge", "m1", 4, incident=b.id, target=a.id)
    _, target = merge(b, a, m, at(4))
    release = next(c for c in target.state.clocks if c.rule == "release")
    assert release.status == "met" and release.stopped_at == at(3)
    assert target.state.acknowledged_at == at(3)


def test_merge_moves_posts_heat_and_the_earliest_start():
    a = incident(Grade.IV)
    b = open_with(post("q1", OTHER_FIRE, 2), classified("q1", grade=Grade.III)).state
    m = action("merge", "m1", 3, incident=b.id, target=a.id)
    source, target = merge(b, a, m, at(3))
    for s in (source.state, target.state):
        assert s == clocks.refresh(s)  # cached views and schedule are current
    assert source.state.status is Status.MERGED and source.state.merged_into == a.id
    assert kinds(source.events)[-2:] == ["action_recorded", "merged"]
    assert target.state.post_ids == ("p1", "q1") and target.state.heat.posts == 2
    assert target.state.grade is Grade.III and target.state.merged_from == (b.id,)
    assert target.state.first_seen == at(0)
    with pytest.raises(ActionError, match="merged into"):
        act(source.state, "acknowledge", "x", 4)
    again = merge(source.state, target.state, m, at(4))
    assert again[0].events == () and again[1].events == ()


def test_split_moves_posts_to_a_new_incident():
    state = incident(Grade.IV)
    state = join(state, post("p2", OTHER_FIRE, 1), classified("p2", grade=Grade.II)).state
    assert state.grade is Grade.II
    s = action("split", "s1", 2, incident=state.id, post_ids=("p2",), note="雁江区居民楼起火")
    remaining, new = split(state, s, at(2), texts=[OTHER_FIRE])
    assert new is not None
    for st in (remaining.state, new.state):
        assert st == clocks.refresh(st)  # cached views and schedule are current
    assert remaining.state.post_ids == ("p1",) and remaining.state.grade is Grade.IV
    assert new.state.post_ids == ("p2",) and new.state.grade is Grade.II
    assert new.state.title == "雁江区居民楼起火" and new.state.first_seen == at(1)
    assert kinds(new.events)[0] == "opened" and new.events[0].data["split_from"] == state.id
    assert EventKind.SPLIT in [e.kind for e in remaining.events]
    assert "graded" in kinds(remaining.events)
    # the new incident's clocks start at its own first post
    assert {c.rule: c.deadline for c in new.state.clocks}["release"] == at(6)
    again_remaining, again_new = split(remaining.state, s, at(3))
    assert again_new is None and again_remaining.events == ()


def test_split_of_unknown_posts_is_refused():
    state = incident()
    with pytest.raises(ActionError, match="not in this incident: nope"):
        split(state, action("split", "s", 1, incident=state.id, post_ids=("nope",)), at(2))
    with pytest.raises(ActionError, match="every post"):
        split(state, action("split", "s", 1, incident=state.id, post_ids=("p1",)), at(2))


# --- determinism ------------------------------------------------------------------------------


def scenario() -> list[bytes]:
    """Posts, actions and clock ticks; every record as bytes, as a topic would carry them."""
    out = open_with(post("p1", observed=at(0, 2)), classified("p1", grade=Grade.IV))
    records = [*out.events, *out.notifications]
    state = out.state
    steps = [
        ("post", post("p2", FIRE_TEXT_2, 1), classified("p2", grade=Grade.II)),
        ("tick", at(3), None),
        ("act", action("acknowledge", "a1", 3, 10, incident=state.id), None),
        ("act", action("release", "r1", 5, 30, incident=state.id, url=URL), None),
        ("tick", at(30), None),
        ("act", action("follow_up", "f1", 40, incident=state.id, url=URL), None),
        ("tick", at(90), None),
        ("act", action("close", "c1", 91, incident=state.id), None),
    ]
    for kind, first, second in steps:
        if kind == "post":
            step = join(state, first, second)
        elif kind == "tick":
            step = clocks.evaluate(state, first)
        else:
            step = apply_action(state, first, first.at + timedelta(minutes=5))
        state = step.state
        records += [*step.events, *step.notifications]
    return [msgspec.json.encode(r) for r in records] + [msgspec.json.encode(state)]


def test_same_inputs_give_identical_events_and_intents():
    first, second = scenario(), scenario()
    assert first == second
    events = [msgspec.json.decode(r) for r in first[:-1]]
    event_ids = [e["id"] for e in events if "kind" in e]
    assert len(event_ids) == len(set(event_ids))  # no event twice
    keys = [e["key"] for e in events if "key" in e]
    assert len(keys) == len(set(keys))  # no notification key twice
    assert any(e.get("kind") == "deadline_breached" for e in events)  # the release was late


def run(seed: int, ticks: bool) -> tuple[list[bytes], list[bytes], bytes]:
    """A random but seeded stream of posts and actions on one incident. With `ticks`, the
    clocks are also evaluated every 15 minutes of event time, as a live worker would.
    Returns the `incident.events` records, the `notifications` records and the final state."""
    import random

    rng = random.Random(seed)
    out = open_with(post("p0"), classified("p0", grade=rng.choice([Grade.II, Grade.IV])))
    state, events, notes, t = out.state, list(out.events), list(out.notifications), at(0)
    kinds_ = ["post", "post", "post", "acknowledge", "release", "follow_up", "press_conference",
              "regrade"]  # fmt: skip

    def take(step: Outcome) -> IncidentState:
        events.extend(step.events)
        notes.extend(step.notifications)
        # the cached schedule and clock views never go stale
        assert step.state.next_due_at == clocks.compute_next_due(step.state)
        assert step.state == clocks.refresh(step.state)
        return step.state

    for n in range(40):
        t_next = t + timedelta(minutes=rng.randint(1, 400), seconds=rng.randint(1, 59))
        while ticks and t + timedelta(minutes=15) < t_next:
            t += timedelta(minutes=15)
            state = take(clocks.evaluate(state, t))
        t = t_next
        kind = rng.choice(kinds_)
        if kind == "post":
            p = msgspec.structs.replace(
                post(f"p{n + 1}", FIRE_TEXT_2), published_at=t, observed_at=t
            )
            grade = rng.choice([Grade.IV, Grade.III, Grade.II])
            state = take(join(state, p, classified(p.id, grade=grade)))
        else:
            a = Action(id=f"a{n}", incident_id=state.id, kind=kind, by="值班员", at=t, url=URL,
                       grade=rng.choice(list(Grade)), reason="复核")  # fmt: skip
            state = take(apply_action(state, a, t))
    state = take(clocks.evaluate(state, t + timedelta(days=5)))
    encode = msgspec.json.encode
    return [encode(e) for e in events], [encode(n) for n in notes], encode(state)


@pytest.mark.parametrize("seed", range(12))
def test_ticking_the_clocks_live_or_not_gives_the_same_sequence(seed):
    live, replay = run(seed, ticks=True), run(seed, ticks=False)
    assert live[0] == replay[0] and live[2] == replay[2]  # events and final state
    # Notifications: of one clock's items falling due together only the last is told, and a
    # replay (no ticks) folds more together; each one it tells is the live one, byte for byte.
    assert set(replay[1]) <= set(live[1])
    events, notes, _ = live
    event_ids = [msgspec.json.decode(e)["id"] for e in events]
    keys = [msgspec.json.decode(n)["key"] for n in notes]
    assert len(event_ids) == len(set(event_ids)) and len(keys) == len(set(keys))
    assert len(events) > 40  # the run did something: posts, actions and clock events


def test_a_later_regrade_replaces_the_earlier_manual_grade():
    state = act(incident(Grade.IV), "regrade", "g1", 1, grade=Grade.II, reason="领导批示").state
    out = act(state, "regrade", "g2", 2, grade=Grade.III, reason="核实后降级")
    assert out.state.grade is Grade.III and out.state.grades.manual is Grade.III
    graded = [e for e in out.events if e.kind is EventKind.GRADED]
    assert graded[0].data["direction"] == "down"
    assert {c.rule for c in out.state.clocks} == {"answer"}
    # breaches and warnings already fired under II stay in the record
    assert all(n.step is not Step.REGRADED for n in out.notifications)


def test_decoding_an_action_refuses_unknown_fields_and_names_them():
    raw = (
        b'{"id":"a","incident_id":"i","kind":"release","by":"x",'
        b'"at":"2024-05-01T10:00:00+08:00","ulr":"https://a.cn"}'
    )
    with pytest.raises(msgspec.ValidationError, match="ulr"):
        msgspec.json.decode(raw, type=Action)


def test_unknown_incident_error_names_the_incident():
    err = unknown_incident(action("release", "a9", 1, incident="20240501-nope", url=URL))
    assert "a9" in str(err) and "no incident '20240501-nope'" in str(err)
