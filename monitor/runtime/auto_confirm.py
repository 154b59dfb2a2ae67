"""Auto-confirm of official releases, where the city's config allows it.

An official account's post that matches an open incident is a candidate release (the API lists
it for one-action confirmation). With `evidence.auto_confirm: true` in the city config, a
candidate at or above `auto_confirm_at` records itself: the same `submit_action` path as a
person's answer (archived, audited as `auto:official-account`, sent to `actions`), timed at the
official post's publication, not at confirmation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from monitor.domain.evidence import Candidate, EvidencePolicy, auto_action, match_official
from monitor.runtime.actions import ActionRefused, Recorded, Send, is_archived, submit_action
from monitor.runtime.evidence import official_posts
from monitor.store import Store

log = logging.getLogger(__name__)


async def auto_confirm_pass(
    store: Store, policy: EvidencePolicy, send: Send, now: datetime
) -> list[Recorded]:
    """Record every auto-confirmable candidate not recorded yet; refusals are logged."""
    if not policy.auto_confirm:
        return []
    states = [r.state for r in store.incidents()]
    done = []
    for post in official_posts(store, policy.accounts):
        found = match_official(post, states, policy, now)
        action = auto_action(found) if isinstance(found, Candidate) else None
        if action is None or is_archived(store, action.id):
            continue
        try:
            done.append(await submit_action(store, action, send, now))
        except ActionRefused as exc:
            log.warning("auto-confirm of %s refused: %s", action.id, exc)
    return done


def auto_confirm_in_worker(
    db: str, policy: EvidencePolicy, send: Send, interval: float = 30.0
) -> Callable[[Any], None]:
    """A Faust timer that runs a pass every `interval` seconds (nothing when not allowed)."""

    def attach(app: Any) -> None:
        if not policy.auto_confirm:
            return
        store = Store(db)

        @app.timer(interval=interval)
        async def auto_confirm() -> None:
            await auto_confirm_pass(store, policy, send, datetime.now(UTC))

    return attach
