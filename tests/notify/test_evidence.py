"""Official posts as candidate releases: matching, confirmation, and the release time."""

from __future__ import annotations

import msgspec

from monitor.domain import clocks
from monitor.domain.actions import apply_action
from monitor.domain.events import Step
from monitor.domain.evidence import (
    Candidate,
    EvidencePolicy,
    Rejected,
    auto_action,
    confirm,
    match_official,
)
from monitor.domain.state import ActionKind, Status
from tests.notify.incident_builders import ACCOUNTS, UNRELATED, at, fire_incident, official_post

POLICY = EvidencePolicy(accounts=ACCOUNTS)


def test_an_official_post_about_the_incident_is_a_candidate_release() -> None:
    state = fire_incident().state
    got = match_official(official_post(), [state], POLICY, now=at(5))
    assert isinstance(got, Candidate)
    assert got.incident_id == state.id and got.kind is ActionKind.RELEASE
    assert got.published_at == at(4.5) and got.account == "资阳消防"
    assert got.similarity >= POLICY.min_similarity and not got.auto_confirmed
    assert auto_action(got) is None  # humans confirm unless the city allows auto-confirm


def test_confirmed_late_the_release_time_is_still_the_official_post_time() -> None:
    state = fire_incident().state
    cand = match_official(official_post(), [state], POLICY, now=at(6))
    assert isinstance(cand, Candidate)
    action = confirm(cand, by="值班员 李四")
    assert action.at == at(4.5) and action.kind == "release" and action.url == cand.url
    out = apply_action(state, action, now=at(6))  # confirmed at 6 h, after the 5 h deadline
    assert out.state.stops["release"].at == at(4.5)
    assert out.events[-1].data["stopped"][0] == f"{state.id}:release#0"
    # The breach fell due at 5 h, before anyone confirmed: it stands (breaches are facts, and
    # no one turns a breach into met); the clock reads late, stopped at the post's own time.
    assert out.events[-1].data["late"] == [f"{state.id}:release#0"]
    assert out.events[-1].data["backdated"] is True
    release = next(c for c in out.state.clocks if c.rule == "release")
    assert (release.status, release.stopped_at) == ("late", at(4.5))
    # confirmed before 5 h it is in time
    early = apply_action(state, action, now=at(4.75))
    assert next(c for c in early.state.clocks if c.rule == "release").status == "met"
    later = clocks.evaluate(out.state, at(21))
    assert [n.clock for n in later.notifications if n.step is Step.WARNING] == ["press_conference"]


def test_auto_confirm_above_the_threshold_when_the_city_allows_it() -> None:
    state = fire_incident().state
    allow = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.3, accounts=ACCOUNTS)
    cand = match_official(official_post(), [state], allow, now=at(5))
    assert isinstance(cand, Candidate) and cand.auto_confirmed
    action = auto_action(cand)
    assert action is not None and action.by == "auto:official-account" and action.at == at(4.5)
    strict = EvidencePolicy(auto_confirm=True, auto_confirm_at=0.99, accounts=ACCOUNTS)
    cand = match_official(official_post(), [state], strict, now=at(5))
    assert isinstance(cand, Candidate) and not cand.auto_confirmed


def test_a_second_publication_is_a_follow_up() -> None:
    state = fire_incident().state
    first = match_official(official_post(), [state], POLICY, now=at(5))
    assert isinstance(first, Candidate)
    state = apply_action(state, confirm(first, "值班员"), now=at(5)).state
    second = match_official(official_post("gov2", hours=20), [state], POLICY, now=at(20))
    assert isinstance(second, Candidate) and second.kind is ActionKind.FOLLOW_UP


def test_unrelated_other_bodies_and_non_official_posts_are_not_candidates() -> None:
    state = fire_incident().state
    assert match_official(official_post(text=UNRELATED), [state], POLICY, at(5)) is None
    other_body = official_post(source="资阳教体")
    assert match_official(other_body, [state], POLICY, at(5)) is None
    city = EvidencePolicy(city_accounts=frozenset({"市教育和体育局"}), accounts=ACCOUNTS)
    assert isinstance(match_official(other_body, [state], city, at(5)), Candidate)
    assert match_official(official_post(source="某网友"), [state], POLICY, at(5)) is None
    before = official_post(hours=-1)  # older than the incident: cannot answer it
    assert match_official(before, [state], POLICY, at(5)) is None
    closed = msgspec.structs.replace(state, status=Status.CLOSED)
    assert match_official(official_post(), [closed], POLICY, at(5)) is None


def test_unusable_official_posts_say_why() -> None:
    state = fire_incident().state
    cases = {
        "future": official_post(hours=6),
        "publication time": official_post(published_at=None),
        "URL": official_post(url=None),
    }
    for word, p in cases.items():
        got = match_official(p, [state], POLICY, now=at(5))
        assert isinstance(got, Rejected) and word in got.reason, (word, got)
