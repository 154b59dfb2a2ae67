"""Evidence from official accounts: an official post that answers an open incident.

    decision = match_official(post, incidents, policy, now)    Candidate | Rejected | None
    action = confirm(candidate, by)                            an Action for actions.apply_action

A post from an account the city config names as a body's own (`OfficialAccounts`: Weibo uid,
WeChat biz, a feed or push source) that is about a live incident becomes a *candidate
release*. Which body an account speaks for is looked up here, in the configured table, on every
path: the post's own `official` and `department` fields are never read, so a pushed or
hand-fed post claiming `"official": true, "department": "市应急管理局"` is evidence of nothing.
Duty staff or the department confirm it with one action; a city may let candidates above
`auto_confirm_at` confirm themselves. Either way the release time is the official post's own
`published_at`, never the time of confirmation, so a release posted at 4 h 30 min stops the
5-hour clock at 4 h 30 min even if someone confirms it at 6 h (the clock then reads `late`:
its breach had fired at 5 h, and a breach is never turned into met).

Which incident: the live one, of a body the account speaks for, whose kept texts the post is
most similar to (actions' own bigram overlap), at or above `min_similarity`. An official post
older than the incident's first post cannot answer it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import msgspec

from monitor.domain.incidents import similarity
from monitor.domain.model import Post
from monitor.domain.state import Action, ActionKind, IncidentState


class OfficialAccounts(msgspec.Struct, frozen=True, kw_only=True):
    """Configured accounts → the body each speaks for (city config `official_accounts`).

    Matched on what the server, not the sender, set: a Weibo status's author (`weibo:` ids,
    from the Weibo connector), a WeChat article's account (`wechat:` ids), the configured source
    a polled post came from (`source`), or the push source whose endpoint received it (the
    `push:{source}:` id prefix the push endpoint gives every post)."""

    weibo: Mapping[str, str] = msgspec.field(default_factory=dict)
    wechat: Mapping[str, str] = msgspec.field(default_factory=dict)
    feeds: Mapping[str, str] = msgspec.field(default_factory=dict)
    push: Mapping[str, str] = msgspec.field(default_factory=dict)

    def body_of(self, post: Post) -> str | None:
        if post.id.startswith("push:"):
            return self.push.get(post.id.split(":", 2)[1])
        if post.id.startswith("weibo:"):
            return self.weibo.get(post.author_id or "")
        if post.id.startswith("wechat:") and post.author_id in self.wechat:
            return self.wechat[post.author_id or ""]  # the connector's account id (its biz)
        return self.feeds.get(post.source or "")


class EvidencePolicy(msgspec.Struct, frozen=True, kw_only=True):
    """`city_accounts`: bodies whose accounts speak for every body (e.g. the city government).
    `accounts`: the configured official accounts, the only source of "official".

    The thresholds are a starting point, not measured on official releases (no such corpus is
    at hand); `min_similarity` equals the incident join threshold measured on CEC.
    """

    min_similarity: float = 0.25
    auto_confirm: bool = False
    auto_confirm_at: float = 0.6
    window: timedelta = timedelta(hours=72)
    city_accounts: frozenset[str] = frozenset()
    accounts: OfficialAccounts = OfficialAccounts()


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
    """The candidate release `post` makes, a reason it cannot be one, or None if unrelated
    (including every post from an account not configured as official)."""
    body = policy.accounts.body_of(post)
    if body is None:
        return None
    problem = _unusable(post, now)
    if problem:
        return Rejected(post_id=post.id, reason=problem)
    assert post.published_at is not None and post.url is not None
    scored = [
        (similarity(post.full_text, s), s)
        for s in incidents
        if _eligible(s, body, post.published_at, policy)
    ]
    best = max(scored, key=lambda pair: pair[0], default=None)
    if best is None or best[0] < policy.min_similarity:
        return None
    score, state = best
    auto = policy.auto_confirm and score >= policy.auto_confirm_at
    return Candidate(
        id=f"evidence:{post.id}", incident_id=state.id, post_id=post.id, kind=_kind(state),
        published_at=post.published_at, url=post.url, account=post.author or body,
        body=body, similarity=round(score, 4), auto_confirmed=auto,
    )  # fmt: skip


def _unusable(post: Post, now: datetime) -> str | None:
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
