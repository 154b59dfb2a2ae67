"""Writes what the pipeline carries into the store, in batches, off the event loop.

    writer = StoreWriter(store, metrics)
    add_sink(app, settings, topics, writer)     # one Faust agent per topic it reads

Every write is idempotent (by id), so a batch redelivered after a crash changes nothing. A
record that does not decode is skipped here: the agent that reads the same topic dead-letters
it with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
import msgspec

from monitor.domain.events import Event
from monitor.domain.state import IncidentState
from monitor.metrics import Metrics
from monitor.store import Store
from monitor.topics import Topic
from streams.halt import stop_on_storage_fault
from streams.records import (
    ActionIn,
    Classified,
    ClassifiedBatch,
    action_request_decoder,
    input_decoder,
    post_decoder,
    unbatch,
)
from streams.settings import StreamSettings

Row = tuple[str, str, bytes, str | None]
# Rows archived per transaction. A take of 1,000 records of posts.classified can hold 1,000
# batches of posts: one list of all their rows was a worker's largest allocation in a flood.
ARCHIVE_CHUNK = 2000
_events = msgspec.json.Decoder(Event)
_states = msgspec.json.Decoder(IncidentState)


def _decoded(decode: Callable[[bytes], Any], batch: Sequence[bytes]) -> list[Any]:
    return [value for _, value in _pairs(decode, batch)]


class StoreWriter:
    """Store rows for each topic's batch; each method is safe to call again with a batch."""

    def __init__(self, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics

    def events(self, batch: Sequence[bytes]) -> int:
        n = self.store.record_events(_decoded(_events.decode, batch))
        self.metrics.store_writes.labels("events").inc(n)
        return n

    def states(self, batch: Sequence[bytes]) -> int:
        states = _decoded(_states.decode, batch)
        self.store.save_states(states)
        self.metrics.store_writes.labels("incidents").inc(len(states))
        return len(states)

    def raw_posts(self, batch: Sequence[bytes]) -> int:
        rows = [("post", p.id, raw, None) for raw, p in _pairs(post_decoder.decode, batch)]
        return self._archive(rows)

    def actions(self, batch: Sequence[bytes]) -> int:
        rows = [
            ("action", req.action.id, raw, req.key)
            for raw, req in _pairs(action_request_decoder.decode, batch)
        ]
        return self._archive(rows)

    def inputs(self, batch: Sequence[bytes]) -> int:
        """The incident agent's input in the order it saw it: replaying this log rebuilds the
        same incidents with the same ids, which the order of posts.raw alone would not. A batch
        is archived as its posts, each as a single `Classified` record."""
        rows: list[Row] = []
        n = 0
        for raw, rec in _pairs(input_decoder.decode, batch):
            items = unbatch(rec) if isinstance(rec, ClassifiedBatch) else [(raw, rec)]
            for body, one in items:
                if isinstance(one, Classified) and one.forwarded_from is None:
                    rows.append(("input", f"post:{one.post.id}", body, one.key))
                elif isinstance(one, ActionIn):
                    rows.append(("input", f"action:{one.action.id}", body, one.key))
            if len(rows) >= ARCHIVE_CHUNK:
                n += self._archive(rows)
                rows = []
        return n + self._archive(rows)

    def _archive(self, rows: Sequence[Row]) -> int:
        n = self.store.archive_many(rows)
        self.metrics.store_writes.labels("archive").inc(n)
        return n


def _pairs(decode: Callable[[bytes], Any], batch: Sequence[bytes]) -> list[tuple[bytes, Any]]:
    out = []
    for raw in batch:
        try:
            out.append((raw, decode(raw)))
        except (msgspec.DecodeError, ValueError):
            continue  # dead-lettered by the agent that reads the same topic
    return out


def add_sink(
    app: faust.App,
    settings: StreamSettings,
    topics: dict[Topic, faust.TopicT],
    writer: StoreWriter,
) -> None:
    where = writer.store.url.removeprefix("sqlite:///")

    def sink(t: Topic, write: Callable[[Sequence[bytes]], int]) -> None:
        async def agent(stream: Any) -> None:
            async for batch in stream.take(1000, within=0.1):
                try:
                    await _off_loop(write, batch)
                except Exception as exc:
                    stop_on_storage_fault(exc, where)  # a full or read-only disk: one line
                    raise

        app.agent(topics[t], name=f"{settings.prefix}sink_{t.value}")(agent)

    sink(Topic.RAW, writer.raw_posts)
    sink(Topic.CLASSIFIED, writer.inputs)
    sink(Topic.ACTIONS, writer.actions)
    sink(Topic.EVENTS, writer.events)
    sink(Topic.STATE, writer.states)


def _off_loop(write: Callable[[Sequence[bytes]], int], batch: Sequence[bytes]) -> Awaitable[int]:
    return asyncio.to_thread(write, [b for b in batch if b is not None])
