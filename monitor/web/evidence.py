"""Candidate releases for the API: official posts in the archive that answer an incident.

Computed when asked, from the archive and the read model with the domain's `match_official`:
no table of its own, so nothing here can drift from what the posts say. The scan reads every
archived post once per request; fine for a duty office's volume, an index if it grows.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from monitor.domain.evidence import Candidate, EvidencePolicy, match_official
from monitor.domain.model import Post
from monitor.store import Store

_post = msgspec.json.Decoder(Post)
_OFFICIAL = b'"official":true'


def official_posts(store: Store) -> list[Post]:
    posts = []
    for row in store.archived():
        # cheap pre-filter: the archive holds posts as the encoder wrote them, no spaces
        if row.kind == "post" and _OFFICIAL in row.body:
            posts.append(_post.decode(row.body))
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
    for post in official_posts(store):
        c = match_official(post, states, policy, now)
        if (
            isinstance(c, Candidate)
            and c.incident_id == incident_id
            and not target.has_action(c.id)
        ):
            found.append(c)
    return found
