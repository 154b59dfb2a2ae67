"""Candidate releases for the API: official posts in the archive that answer an incident.

Computed when asked, from the archive and the read model with the domain's `match_official`:
no table of its own, so nothing here can drift from what the posts say. The scan reads every
archived post once per request; fine for a duty office's volume, an index if it grows.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from monitor.domain.evidence import Candidate, EvidencePolicy, OfficialAccounts, match_official
from monitor.domain.model import Post
from monitor.store import Store

_post = msgspec.json.Decoder(Post)


def official_posts(store: Store, accounts: OfficialAccounts) -> list[Post]:
    """Archived posts from a configured official account (the table decides, never a post's
    own `official` field). Without accounts there are none, and nothing is decoded."""
    if not (accounts.weibo or accounts.wechat or accounts.feeds or accounts.push):
        return []
    posts = []
    for row in store.archived():
        if row.kind == "post":
            post = _post.decode(row.body)
            if accounts.body_of(post) is not None:
                posts.append(post)
    return posts


def candidates(
    store: Store, incident_id: str, policy: EvidencePolicy, now: datetime
) -> list[Candidate]:
    """Open candidates for one incident: matched to it and not yet confirmed."""
    states = [r.state for r in store.incidents()]
    target = next((s for s in states if s.id == incident_id), None)
    if target is None:
        return []
    found = []
    for post in official_posts(store, policy.accounts):
        c = match_official(post, states, policy, now)
        if (
            isinstance(c, Candidate)
            and c.incident_id == incident_id
            and not target.has_action(c.id)
        ):
            found.append(c)
    return found
