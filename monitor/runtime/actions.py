"""One path for every action, whether typed at `monitor act` or posted to the HTTP API:

    recorded = await submit_action(store, action, send, now, at_given=True)

It refuses (ActionRefused, with an HTTP-like status) what the worker would refuse, so the user
sees why at once and nothing changes; else it archives the action (so a crash of the memory-only
broker cannot lose it: `monitor run` replays the archive), audits who/when, and sends it to the
`actions` topic. An id already archived is the same action again (200, the original result, sent
again in case the first send never reached the broker; the worker ignores an applied id) or a
conflict (409) if the content differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from monitor.domain.actions import ActionError, backdated, normalised, validate
from monitor.domain.policy import FUTURE_SKEW_S
from monitor.domain.state import Action, IncidentState
from monitor.store import Store, schema
from streams.records import ActionRequest, encoder

Send = Callable[[str, bytes], Awaitable[None]]
_request_decoder = msgspec.json.Decoder(ActionRequest)


class ActionRefused(ValueError):
    """`status`: 404 unknown incident, 409 conflicts with what is recorded, 422 bad answer."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Recorded:
    request: ActionRequest
    duplicate: bool

    @property
    def action(self) -> Action:
        return self.request.action

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self.request.action)
        return {"status": "recorded", "key": self.request.key, "action": result,
                "recorded_at": self.request.recorded_at.isoformat()}  # fmt: skip


def _checked(action: Action) -> Action:
    """The action as a decoder gives it: field types (a grade given as text becomes a Grade)
    and length limits (a 2 MB reason) are checked before anything is archived, so nothing
    archived can be too large to replay."""
    try:
        return msgspec.convert(msgspec.to_builtins(action), Action)
    except msgspec.ValidationError as exc:
        where = str(exc).rpartition("`$.")[2].rstrip("`") or None
        raise ActionRefused(422, f"invalid action: {exc}", where) from None


def _refusal(exc: ActionError) -> ActionRefused:
    # a clash with the record (closed incident, id reused) is a conflict; the rest is bad input
    status = 409 if exc.field in ("id", "incident_id") else 422
    return ActionRefused(status, str(exc), exc.field)


def _same(kept: Action, new: Action, at_given: bool) -> bool:
    if not at_given:
        # a retry without `at` means "now" again: the original time stands
        new = msgspec.structs.replace(new, at=kept.at)
    return kept == new


def _archived(store: Store, action_id: str) -> ActionRequest | None:
    t = schema.archive
    q = sa.select(t.c.body).where(t.c.kind == "action", t.c.id == action_id)
    with store.engine.connect() as conn:
        body = conn.execute(q).scalar_one_or_none()
    return _request_decoder.decode(body) if body is not None else None


def is_archived(store: Store, action_id: str) -> bool:
    return _archived(store, action_id) is not None


def _again(kept: ActionRequest, action: Action, at_given: bool) -> Recorded:
    if not _same(kept.action, action, at_given):
        raise ActionRefused(
            409, f"action id {action.id!r} was already used for a different action", "id"
        )
    return Recorded(kept, duplicate=True)


def check(
    state: IncidentState, action: Action, now: datetime, skew_s: int = FUTURE_SKEW_S
) -> Action:
    """The normalised action, or ActionRefused saying what is wrong with it. The evidence asked
    of new actions is required here (permissions.Evidence.asked)."""
    try:
        action = normalised(action)
        validate(state, action, now, skew_s, new=True)
    except ActionError as exc:
        raise _refusal(exc) from None
    return action


def record_action(
    store: Store, action: Action, now: datetime, at_given: bool = True, source: str | None = None,
    skew_s: int = FUTURE_SKEW_S,
) -> Recorded:
    """Validate, archive and audit (no send). Synchronous: the store is. `source`: where the
    answer came from (the client's address, or "cli"), kept in the audit row, with when it was
    recorded and whether it was backdated (entered later than it happened by more than
    `skew_s`, clocks.future_skew)."""
    action = _checked(action)
    row = store.incident(action.incident_id)
    if row is None:
        raise ActionRefused(404, f"unknown incident {action.incident_id!r}", "incident_id")
    if action.at.tzinfo is None:
        raise ActionRefused(422, f"at: {action.at.isoformat()} has no time zone", "at")
    kept = _archived(store, action.id)
    if kept is not None:
        return _again(kept, normalised(action), at_given)
    target_key = _merge_target_key(store, row.key, action)
    action = check(row.state, action, now, skew_s)
    req = ActionRequest(key=row.key, action=action, recorded_at=now, target_key=target_key)
    if not store.archive("action", action.id, encoder.encode(req), key=row.key, now=now):
        kept = _archived(store, action.id)  # a concurrent request with the same id won
        assert kept is not None
        return _again(kept, action, at_given)
    detail = {"id": action.id, "url": action.url, "at": action.at.isoformat(),
              "channel": action.channel, "place": action.place, "reason": action.reason,
              "grade": action.grade.value if action.grade else None,
              "target": action.target, "post_ids": list(action.post_ids),
              "source": source, "recorded_at": now.isoformat(),
              "backdated": backdated(action.at, now, skew_s)}  # fmt: skip
    store.audit(action.by, f"act:{action.kind}", action.incident_id, detail, now=now)
    return Recorded(req, duplicate=False)


def _merge_target_key(store: Store, key: str, action: Action) -> str | None:
    """The key of a merge's target when it differs from the source's (another city or category
    family): the source's worker then hands the merge on to the target's (streams.records.Absorb).
    The target must be known and open here, because that second half can no longer be refused
    without leaving the source merged into nothing."""
    if action.kind != "merge" or not action.target:
        return None
    target = store.incident(action.target)
    if target is None:
        raise ActionRefused(404, f"unknown incident {action.target!r} to merge into", "target")
    if not target.state.status.live:
        status = target.state.status.value
        raise ActionRefused(409, f"incident {action.target} is {status}: cannot merge into it",
                            "target")  # fmt: skip
    return target.key if target.key != key else None


async def submit_action(
    store: Store, action: Action, send: Send, now: datetime, at_given: bool = True,
    source: str | None = None, skew_s: int = FUTURE_SKEW_S,
) -> Recorded:
    recorded = await asyncio.to_thread(
        record_action, store, action, now, at_given, source, skew_s
    )
    await send(recorded.request.key, encoder.encode(recorded.request))
    return recorded


def topic_sender(broker: str, topic: str) -> Send:
    """Send to `topic` on `broker` and wait for the ack."""
    from monitor.runtime.producer import send_all

    async def send(key: str, body: bytes) -> None:
        await send_all(broker, topic, [(key.encode(), body)])

    return send
