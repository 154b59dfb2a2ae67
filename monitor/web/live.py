"""Live push to the dashboards: Server-Sent Events from the store's event log.

One poller per web process reads what is new (events by `seq`; incidents whose (rev, fired)
moved, through the read model's refresh) every `interval` and fans it out to every connected
dashboard, so 50 dashboards cost one query, not 50. Each message carries the event log's `seq`
as its SSE id; a dashboard that reconnects sends it back (`Last-Event-ID`) and first gets what
it missed, from the store.

Messages:
- `incident`: an event a person must see (opened, graded, deadline warning or breach, action
  recorded, closed, merged, split); `assigned` (one per post) is left out: during a flood that
  is hundreds a second, and `changed` already says which incidents grew;
- `changed`: the ids of incidents whose state changed (refetch them);
- `reset`: too much was missed to replay: refetch everything;
- `revoked`: the token stopped working (checked every few seconds on an open stream).

A department's stream carries only the incidents it may read (monitor.web.auth.User.may_read).

On PostgreSQL, sequence numbers are handed out before commit, so a transaction that commits
late can make a smaller `seq` visible after a larger one was read; that event's banner would be
missed (not its data: `changed` still names the incident). SQLite commits in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.store import Store
from monitor.store.users import Shares
from monitor.web.auth import User
from monitor.web.cache import ReadModel

log = logging.getLogger(__name__)

POLL_S = 0.25
RECHECK_S = 2.0  # how often an open stream re-checks its token and a department's shares
CATCH_UP_MAX = 500  # more missed than this → `reset`
QUEUE_MAX = 1000
SILENT = ("assigned", "updated")


@dataclass
class Message:
    event: str
    data: dict[str, Any]
    id: int


@dataclass(eq=False)  # hashed by identity: kept in a set
class Subscriber:
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))
    overflowed: bool = False

    def offer(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True


class Feed:
    def __init__(self, store: Store, model: ReadModel, interval: float = POLL_S) -> None:
        self.store = store
        self.model = model
        self.interval = interval
        self.subscribers: set[Subscriber] = set()
        self.last_seq = 0
        self._task: asyncio.Task[None] | None = None

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        self.last_seq = await asyncio.to_thread(self.store.last_event_seq)
        await asyncio.to_thread(self.model.refresh)
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._poll()
            except Exception:  # a store hiccup must not end live push for everyone
                log.exception("live feed poll failed")

    async def _poll(self) -> None:
        rows = await asyncio.to_thread(self.store.events_after, self.last_seq, 1000)
        # the states first: a dashboard told `changed` refetches, and must see the change
        changed = await asyncio.to_thread(self.model.refresh)
        if rows:
            self.last_seq = rows[-1][0]
        for seq, event in rows:
            if event["kind"] not in SILENT:
                self._publish(Message("incident", event_message(seq, event), seq))
        if changed:
            self._publish(Message("changed", {"ids": sorted(changed)}, self.last_seq))

    def _publish(self, message: Message) -> None:
        for sub in list(self.subscribers):
            sub.offer(message)

    def subscribe(self) -> Subscriber:
        self._start()
        sub = Subscriber()
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)


def event_message(seq: int, event: dict[str, Any]) -> dict[str, Any]:
    return {"seq": seq, "kind": event["kind"], "incident_id": event["incident_id"],
            "at": event["at"], "data": event.get("data") or {}}  # fmt: skip


class Visibility:
    """What one reader may see, refreshed every RECHECK_S (shares can change while a stream is
    open)."""

    def __init__(self, user: User, store: Store, feed: Feed) -> None:
        self.user = user
        self.store = store
        self.feed = feed
        self.shared: set[str] = set()

    async def refresh(self) -> None:
        if self.user.body:
            self.shared = await asyncio.to_thread(Shares(self.store).incidents, self.user.body)

    def sees(self, incident_id: str) -> bool:
        if self.user.reads_all:
            return True
        state = self.feed.model.cached(incident_id)
        bodies = state.responsible.bodies if state is not None else ()
        return self.user.body in bodies or incident_id in self.shared


def _visible(message: Message, vis: Visibility) -> Message | None:
    if message.event == "changed":
        ids = [i for i in message.data["ids"] if vis.sees(i)]
        return Message("changed", {"ids": ids}, message.id) if ids else None
    return message if vis.sees(message.data["incident_id"]) else None


async def stream(
    feed: Feed, store: Store, user: User, last_id: int | None, still_valid: Callable[[], bool]
) -> AsyncIterator[dict[str, Any]]:
    """The SSE messages for one dashboard, as dicts for sse-starlette."""
    sub = feed.subscribe()
    vis = Visibility(user, store, feed)
    try:
        await vis.refresh()
        if last_id is not None:
            for m in await _catch_up(store, last_id, vis):
                yield _sse(m)
        else:
            yield _sse(Message("hello", {"seq": feed.last_seq}, feed.last_seq))
        while True:
            try:
                message = await asyncio.wait_for(sub.queue.get(), RECHECK_S)
            except TimeoutError:
                if not await asyncio.to_thread(still_valid):
                    yield _sse(Message("revoked", {}, feed.last_seq))
                    return
                await vis.refresh()
                continue
            if sub.overflowed:
                sub.overflowed = False
                yield _sse(Message("reset", {}, feed.last_seq))
                continue
            shown = _visible(message, vis)
            if shown is not None:
                yield _sse(shown)
    finally:
        feed.unsubscribe(sub)


async def _catch_up(store: Store, last_id: int, vis: Visibility) -> list[Message]:
    rows = await asyncio.to_thread(store.events_after, last_id, CATCH_UP_MAX + 1, SILENT)
    if len(rows) > CATCH_UP_MAX:
        return [Message("reset", {}, rows[-1][0])]
    found = [Message("incident", event_message(s, e), s) for s, e in rows]
    shown = [m for m in (_visible(m, vis) for m in found) if m is not None]
    # the dashboard refetches after a reconnect anyway; this says which incidents moved
    ids = sorted({m.data["incident_id"] for m in shown})
    if ids:
        shown.append(Message("changed", {"ids": ids}, found[-1].id))
    return shown


def _sse(m: Message) -> dict[str, Any]:
    return {"event": m.event, "id": str(m.id), "data": json.dumps(m.data, ensure_ascii=False)}
