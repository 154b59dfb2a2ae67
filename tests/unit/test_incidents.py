"""Incident assignment, heat and grade: pure, with event times passed in."""

from __future__ import annotations

import msgspec
import pytest
from incident_helpers import (
    ANYUE,
    CITY_ONLY,
    FIRE_TEXT,
    FIRE_TEXT_2,
    FOOD_TEXT,
    HOME,
    OTHER_FIRE,
    PARAMS,
    YANJIANG,
    at,
    classified,
    join,
    kinds,
    open_with,
    post,
)

from monitor.config import clocks_params
from monitor.domain import clocks
from monitor.domain.escalation import Step
from monitor.domain.events import EventKind
from monitor.domain.incidents import (
    PostTimeError,
    add_post,
    assign,
    bigrams,
    incident_key,
    open_incident,
    overlap,
)
from monitor.domain.model import Grade, Location, Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState, Status

SHANGHAI = Location(in_jurisdiction=False, city="上海市", city_code="3101")


def fire_incident(grade: Grade | None = Grade.IV) -> IncidentState:
    return open_with(post("p1"), classified("p1", grade=grade)).state


def test_open_emits_opened_and_assigned_and_notifies_duty_and_bodies():
    out = open_with(post("p1"), classified("p1", grade=Grade.II))
    assert kinds(out.events) == ["opened", "assigned"]
    state = out.state
    assert state == clocks.refresh(state) and state.next_due_at == at(0.5)
    assert state.status is Status.OPEN and state.grade is Grade.II
    assert state.first_seen == at(0) and state.post_ids == ("p1",)
    assert state.responsible.bodies == ("市消防救援支队", "安岳县人民政府")
    (intent,) = out.notifications
    assert intent.step is Step.OPENED
    assert intent.key == f"notify:{state.id}:opened" and intent.bodies == state.responsible.bodies
    assert intent.grade is Grade.II and intent.place == "资阳市安岳县" and intent.in_jurisdiction
    # every clock with its deadline, from the moment it opens (main: none for live openings)
    assert {c.rule: c.deadline for c in intent.clocks} == {
        "release": at(5), "press_conference": at(24), "follow_up": at(24),
    }  # fmt: skip


def test_incident_id_and_key_are_derived_from_the_post():
    a = fire_incident()
    b = fire_incident()
    assert a.id == b.id and a.id.startswith("20240501-")
    assert a.key == "5120:safety"
    other = open_with(post("p9"), classified("p9")).state
    assert other.id != a.id


@pytest.mark.parametrize(
    ("category", "location", "key"),
    [
        ("fire", ANYUE, "5120:safety"),
        ("work_safety", YANJIANG, "5120:safety"),  # same family, other county: same partition
        ("traffic_accident", CITY_ONLY, "5120:safety"),
        ("fire", Location(), "5120:safety"),  # no place: taken to be the monitored city
        ("food_drug", ANYUE, "5120:health"),
        ("labor", ANYUE, "5120:labor"),  # a category outside any family is its own family
        ("fire", SHANGHAI, "3101:safety"),
    ],
)
def test_incident_key_puts_every_possible_candidate_on_one_partition(category, location, key):
    assert incident_key(classified("p", category, location=location), HOME, PARAMS) == key


@pytest.mark.parametrize(
    ("case", "p", "c", "expected"),
    [
        ("similar text, same county", post("p2", FIRE_TEXT_2, 3), classified("p2"), "join"),
        ("county unknown on the post", post("p2", FIRE_TEXT_2, 3), classified("p2", location=CITY_ONLY), "join"),
        ("related category (work safety)", post("p2", FIRE_TEXT_2, 3), classified("p2", "work_safety"), "join"),
        ("other county", post("p2", FIRE_TEXT_2, 3), classified("p2", location=YANJIANG), "open"),
        ("other family", post("p2", FIRE_TEXT_2, 3), classified("p2", "food_drug"), "open"),
        ("dissimilar text", post("p2", OTHER_FIRE, 3), classified("p2"), "open"),
        ("71 h later", post("p2", FIRE_TEXT_2, 71), classified("p2"), "join"),
        ("73 h later", post("p2", FIRE_TEXT_2, 73), classified("p2"), "open"),
        ("not an incident", post("p2", FIRE_TEXT_2, 3), classified("p2", "none"), "ignore"),
    ],
)  # fmt: skip
def test_assignment(case, p, c, expected):
    decision = assign([fire_incident()], p, c, PARAMS, HOME)
    assert decision.action == expected, case
    if expected == "join":
        assert decision.incident_id == fire_incident().id


def test_window_counts_from_the_last_post():
    state = join(fire_incident(), post("p2", FIRE_TEXT_2, 60), classified("p2")).state
    late = post("p3", FIRE_TEXT, 130)
    assert assign([state], late, classified("p3"), PARAMS, HOME).action == "join"
    assert (
        assign([state], post("p4", FIRE_TEXT, 133), classified("p4"), PARAMS, HOME).action == "open"
    )


def test_a_repost_joins_its_original_whatever_its_classification():
    state = fire_incident()
    repost = post("r1", "转发微博", 5, repost_of="p1")
    c = classified("r1", "public_security", location=YANJIANG)
    decision = assign([state], repost, c, PARAMS, HOME)
    assert (decision.action, decision.incident_id, decision.reason) == (
        "join",
        state.id,
        "repost of p1",
    )


def test_a_near_duplicate_joins_across_categories_even_a_closed_incident():
    state = msgspec.structs.replace(fire_incident(), status=Status.CLOSED)
    dup = post("d1", "转发：" + FIRE_TEXT + "！！", 10)
    decision = assign(
        [state], dup, classified("d1", "work_safety", location=YANJIANG), PARAMS, HOME
    )
    assert decision.action == "join" and decision.reason == "near duplicate"
    # but a merely similar post does not reopen a closed incident
    similar = assign([state], post("p2", FIRE_TEXT_2, 3), classified("p2"), PARAMS, HOME)
    assert similar.action == "open"


def test_short_text_inside_a_long_one_is_not_a_duplicate():
    state = fire_incident()
    short = post("s1", "安岳县岳阳镇", 1)
    decision = assign([state], short, classified("s1", "food_drug"), PARAMS, HOME)
    assert decision.action == "open"


def test_joining_a_merged_incident_goes_to_the_survivor():
    state = msgspec.structs.replace(fire_incident(), status=Status.MERGED, merged_into="X")
    decision = assign(
        [state], post("r1", "转发", 1, repost_of="p1"), classified("r1"), PARAMS, HOME
    )
    assert decision.incident_id == "X"


def test_the_best_of_several_candidates_wins():
    fire = fire_incident()
    food = open_with(post("f1", FOOD_TEXT), classified("f1", "food_drug")).state
    other = open_with(post("o1", OTHER_FIRE), classified("o1", location=CITY_ONLY)).state
    p = post("p2", FIRE_TEXT_2, 2)
    decision = assign([other, food, fire], p, classified("p2"), PARAMS, HOME)
    assert decision.incident_id == fire.id


def test_similarity_is_overlap_of_character_bigrams():
    a, b = bigrams(FIRE_TEXT), bigrams(FIRE_TEXT_2)
    assert overlap(a, a) == 1.0
    assert 0.2 <= overlap(a, b) < 0.75
    assert overlap(a, bigrams(FOOD_TEXT)) < 0.2
    assert overlap(a, frozenset()) == 0.0


def test_adding_the_same_post_twice_changes_nothing():
    out = join(fire_incident(), post("p2", FIRE_TEXT_2, 1), classified("p2"))
    again = join(out.state, post("p2", FIRE_TEXT_2, 1), classified("p2"))
    assert again.state == out.state and again.events == ()
    assert out.state.heat.posts == 2


def test_fact_grade_is_the_gravest_post_and_never_drops():
    state = fire_incident(Grade.III)
    state = join(state, post("p2", FIRE_TEXT_2, 1), classified("p2", grade=Grade.II)).state
    state = join(state, post("p3", FIRE_TEXT_2 + "。", 2), classified("p3", grade=Grade.IV)).state
    assert state.grade is Grade.II and state.grades.fact is Grade.II
    assert state.grades.fact_basis == "test II"


def heat_params(**rule: object) -> IncidentParams:
    return clocks_params({"heat": {"window": "1h", "III": rule}})


@pytest.mark.parametrize(
    ("rule", "posts", "extra", "raised"),
    [
        ({"posts": 5}, 5, {}, True),
        ({"posts": 5}, 4, {}, False),
        ({"reach": 1000}, 2, {"author_followers": 500}, True),
        ({"reach": 1000}, 1, {"author_followers": 500}, False),
        ({"media": 2}, 2, {"source": "news"}, True),
        ({"media": 2}, 2, {"author_verified": True}, True),
        ({"media": 2}, 2, {"source": "weibo"}, False),
        ({"velocity": 6}, 6, {}, True),  # 6 posts, 5 minutes apart: 6/h within the hour
    ],
)
def test_heat_raises_the_grade(rule, posts, extra, raised):
    params = heat_params(**rule)
    first = Post(id="h0", text=FIRE_TEXT, published_at=at(0), **extra)
    state = open_with(first, classified("h0"), params).state
    for i in range(1, posts):
        p = Post(id=f"h{i}", text=FIRE_TEXT_2, published_at=at(0, 5 * i), **extra)
        state = join(state, p, classified(f"h{i}"), params).state
    assert (state.grade is Grade.III) is raised
    assert (state.grades.heat is Grade.III) is raised


def test_velocity_needs_the_posts_within_the_window():
    params = heat_params(velocity=6)
    state = open_with(post("h0"), classified("h0"), params).state
    for i in range(1, 6):
        state = join(
            state, post(f"h{i}", FIRE_TEXT_2, 0, 15 * i), classified(f"h{i}"), params
        ).state
    assert state.heat.peak_velocity == 4  # 4 posts in the last hour at most
    assert state.grade is Grade.IV


def test_heat_is_capped_at_two_by_default():
    params = clocks_params({"heat": {"III": {"reach": 10}, "II": {"reach": 100}}})
    p = Post(id="h0", text=FIRE_TEXT, published_at=at(0), author_followers=50_000_000)
    out = open_with(p, classified("h0"), params)
    assert out.state.grade is Grade.II and out.state.grades.heat is Grade.II
    assert "reach" in (out.state.grades.heat_basis or "")


def test_a_post_with_a_county_refines_a_city_level_incident():
    state = open_with(post("p1"), classified("p1", location=CITY_ONLY)).state
    out = join(state, post("p2", FIRE_TEXT_2, 1), classified("p2", location=ANYUE))
    assert out.state.location.county_code == "512021"
    assert EventKind.UPDATED in [e.kind for e in out.events]


def test_router_reroutes_when_the_grade_changes():
    calls = []

    def router(category, location, grade):
        calls.append((category, location.county_code, grade))
        from monitor.domain.model import Responsible

        level = "city" if grade in (Grade.I, Grade.II) else "county"
        return Responsible(level=level, lead="X" if level == "city" else "Y")

    p = post("p1")
    decision = assign([], p, classified("p1"), PARAMS, HOME)
    state = open_incident(p, classified("p1"), PARAMS, decision, router).state
    assert state.responsible.lead == "Y"
    out = add_post(
        state, post("p2", FIRE_TEXT_2, 1), classified("p2", grade=Grade.II), PARAMS, router
    )
    assert out.state.responsible.lead == "X"
    assert calls == [("fire", "512021", Grade.IV), ("fire", "512021", Grade.II)]


def test_members_are_capped_but_heat_still_counts():
    params = clocks_params({"incidents": {"max_members": 3}})
    state = open_with(post("m0"), classified("m0"), params).state
    for i in range(1, 6):
        state = join(state, post(f"m{i}", FIRE_TEXT_2, 0, i), classified(f"m{i}"), params).state
    assert len(state.members) == 3 and state.heat.posts == 6


@pytest.mark.parametrize(
    "p",
    [
        Post(id="t1", text=FIRE_TEXT),
        Post(id="t2", text=FIRE_TEXT, published_at=at(0).replace(tzinfo=None)),
    ],
)
def test_a_post_without_a_usable_time_is_refused_with_its_id(p):
    with pytest.raises(PostTimeError, match=p.id):
        assign([], p, classified(p.id), PARAMS, HOME)


def test_opening_a_late_discovered_severe_post_escalates_at_once():
    p = post("p1", observed=at(6))
    out = open_with(p, classified("p1", grade=Grade.II))
    breach = [e for e in out.events if e.kind is EventKind.DEADLINE_BREACHED]
    assert len(breach) == 1 and breach[0].at == at(6) and breach[0].data["late"] is True
    assert out.state.opened_at == at(6) and out.state.first_seen == at(0)


def test_an_older_post_arriving_late_moves_the_start_earlier():
    state = open_with(post("p1", hours=2), classified("p1", grade=Grade.II)).state
    assert {c.rule: c.deadline for c in state.clocks}["release"] == at(7)
    out = join(state, post("p0", FIRE_TEXT_2, 0), classified("p0", grade=Grade.II))
    assert out.state.first_seen == at(0)
    assert {c.rule: c.deadline for c in out.state.clocks}["release"] == at(5)


def test_grade_four_opening_names_its_answer_clock():
    (intent,) = open_with(post("p1"), classified("p1", grade=Grade.IV)).notifications
    assert [(c.rule, c.deadline) for c in intent.clocks] == [("answer", at(48))]


def test_a_redelivered_post_past_the_member_cap_is_still_dropped():
    params = clocks_params({"incidents": {"max_members": 1}})
    state = open_with(post("m0"), classified("m0"), params).state
    out = join(state, post("m1", FIRE_TEXT_2, 1), classified("m1"), params)
    again = join(out.state, post("m1", FIRE_TEXT_2, 1), classified("m1"), params)
    assert again.events == () and again.state.heat.posts == 2


def test_a_post_first_fires_what_was_due_before_it_was_seen():
    state = open_with(post("p1"), classified("p1", grade=Grade.II)).state
    out = join(state, post("p2", FIRE_TEXT_2, 6), classified("p2", grade=Grade.II))
    assert kinds(out.events)[-1] == "assigned"
    assert "deadline_breached" in kinds(out.events)


def test_an_incident_outside_the_jurisdiction_is_shown_but_runs_no_clocks():
    out = open_with(post("p1"), classified("p1", grade=Grade.I, location=SHANGHAI))
    assert out.state.watch_only and out.state.clocks == ()
    (intent,) = out.notifications
    assert intent.step is Step.OPENED and intent.in_jurisdiction is False
    assert clocks.next_due(out.state) is None
    assert clocks.evaluate(out.state, at(100)).events == ()


def test_an_unknown_place_counts_as_inside():
    out = open_with(post("p1"), classified("p1", grade=Grade.II, location=Location()))
    assert not out.state.watch_only and len(out.state.clocks) == 3
