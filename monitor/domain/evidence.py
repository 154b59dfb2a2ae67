"""Evidence from official accounts: an official post that answers an open incident.

    decision = match_official(post, incidents, policy, now)    Candidate | Rejected | None
    action = confirm(candidate, by)                            an Action for actions.apply_action

A post marked `official` by the connectors (with the body it speaks for in `department`) that
is about a live incident becomes a *candidate release*. Duty staff or the department confirm it
with one action; a city may let candidates above `auto_confirm_at` confirm themselves. Either
way the release time is the official post's own `published_at`, never the time of confirmation,
so a release posted at 4 h 30 min stops the 5-hour clock even if someone confirms it at 6 h.

Which incident: the live one, of a body the account speaks for, whose kept texts the post is
most similar to (actions' own bigram overlap), at or above `min_similarity`. An official post
older than the incident's first post cannot answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import msgspec

from monitor.domain.incidents import similarity
from monitor.domain.model import Post
from monitor.domain.state import Action, ActionKind, IncidentState


class EvidencePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """`city_accounts`: bodies whose accounts speak for every body (e.g. the city government).

    The thresholds are a starting point, not measured on official releases (no such corpus is
    at hand); `min_similarity` equals the incident join threshold measured on CEC.
    """

    min_similarity: float = 0.25
    auto_confirm: bool = False
    auto_confirm_at: float = 0.6
    window: timedelta = timedelta(hours=72)
    city_accounts: frozenset[str] = frozenset()


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    incident_id: str
    post_id: str
    kind: ActionKind
    published_at: datetime
    url: str
    account: str
    body: str
    similarity: float
    auto_confirmed: bool


class Rejected(msgspec.Struct, frozen=True, kw_only=True):
    """An official post that cannot be evidence, and why (for the duty log, not an error)."""

    post_id: str
    reason: str


def match_official(
    post: Post, incidents: Sequence[IncidentState], policy: EvidencePolicy, now: datetime
) -> Candidate | Rejected | None:
    """The candidate release `post` makes, a reason it cannot be one, or None if unrelated."""
    if not post.official:
        return None
    problem = _unusable(post, now)
    if problem:
        return Rejected(post_id=post.id, reason=problem)
    assert post.published_at is not None and post.url is not None and post.department
    scored = [
        (similarity(post.full_text, s), s)
        for s in incidents
        if _eligible(s, post.department, post.published_at, policy)
    ]
    best = max(scored, key=lambda pair: pair[0], default=None)
    if best is None or best[0] < policy.min_similarity:
        return None
    score, state = best
    auto = policy.auto_confirm and score >= policy.auto_confirm_at
    return Candidate(
        id=f"evidence:{post.id}", incident_id=state.id, post_id=post.id, kind=_kind(state),
        published_at=post.published_at, url=post.url, account=post.author or post.department,
        body=post.department, similarity=round(score, 4), auto_confirmed=auto,
    )  # fmt: skip


def _unusable(post: Post, now: datetime) -> str | None:
    if not post.department:
        return "official post without the body it speaks for (department)"
    if post.published_at is None:
        return "official post without a publication time: the release time would be unknown"
    if post.published_at.tzinfo is None:
        return "official post publication time has no time zone"
    if post.published_at > now:
        return f"official post published in the future ({post.published_at.isoformat()})"
    if not post.url or not post.url.startswith(("http://", "https://")):
        return "official post without an http(s) URL to cite as evidence"
    return None


def _eligible(state: IncidentState, body: str, at: datetime, policy: EvidencePolicy) -> bool:
    speaks = body in policy.city_accounts or body in state.responsible.bodies
    in_time = state.first_seen <= at <= state.last_seen + policy.window
    return state.status.live and speaks and in_time


def _kind(state: IncidentState) -> ActionKind:
    released = any(a.kind == ActionKind.RELEASE.value for a in state.actions)
    return ActionKind.FOLLOW_UP if released else ActionKind.RELEASE


def confirm(candidate: Candidate, by: str) -> Action:
    """The one action that records the candidate; its time is the official post's."""
    note = f"官方账号“{candidate.account}”发布（相似度 {candidate.similarity:.2f}）"
    return Action(
        id=candidate.id, incident_id=candidate.incident_id, kind=candidate.kind.value, by=by,
        at=candidate.published_at, url=candidate.url, channel=candidate.account, note=note,
    )  # fmt: skip


def auto_action(candidate: Candidate) -> Action | None:
    """The action an auto-confirmed candidate records by itself, else None (humans decide)."""
    return confirm(candidate, by="auto:official-account") if candidate.auto_confirmed else None
