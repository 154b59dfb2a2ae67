"""The Faust side of the worker: the app, its topics and Table, and agents that only hand
batches to the stages (streams/stages.py) and send what comes back.

`posts.classified` is keyed by incident key (city × category family), so a post and every
incident it could join live on one partition, in the Table partition of the same number; more
workers split the keys. Clock ticks travel on the same topic, one per partition, so they are
ordered with the posts and actions they follow.

Only Faust's public API is used here, except `streams/tuning.py` (pinned and tested there).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import faust

from monitor.topics import ALL, Topic, topic
from streams.settings import TUNED, StreamSettings
from streams.stages import (
    CHANGELOG,
    ClassifyStage,
    Faults,
    Inbound,
    IncidentStage,
    Record,
    bounded,
    route_action,
)
from streams.tuning import FastFetchApp

log = logging.getLogger(__name__)

CLASSIFY_WITHIN = 0.01  # s; the classify agent's batch wait, added to detection latency
TABLE = "buckets"

Send = Callable[[Record], Awaitable[None]]


@dataclass(frozen=True)
class Agents:
    """The app's agents, for `agent.test_context()` in tests."""

    classify: Any
    route_actions: Any
    incidents: Any


def make_app(settings: StreamSettings) -> faust.App:
    app_class = FastFetchApp if settings.tuned else faust.App
    return app_class(
        settings.faust_id,
        broker=settings.broker,
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        # every record is msgspec JSON already; the Table's changelog too
        key_serializer="raw",
        value_serializer="raw",
        broker_session_timeout=settings.session_timeout,
        broker_rebalance_timeout=settings.session_timeout,
        broker_heartbeat_interval=max(0.5, settings.session_timeout / 10),
        # On SIGTERM or a rebalance, Faust by default waits until every record already taken
        # off the broker is acknowledged; an agent inside `take()` that is being stopped never
        # acknowledges its buffer, so a worker stopped during a flood logged "wait_empty:
        # Waiting for tasks" and never exited (killed after 60 s). Every stage is idempotent
        # (ids, the bucket's `seq`), so the unacknowledged records are simply read again.
        stream_wait_empty=False,
        **(TUNED if settings.tuned else {}),
    )


def declare_topics(app: faust.App, settings: StreamSettings) -> dict[Topic, faust.TopicT]:
    return {
        t: app.topic(
            topic(t, settings.prefix),
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        for t in ALL
    }


def make_table(app: faust.App, settings: StreamSettings) -> Any:
    # bytes → the "raw" codec, for the changelog and for recovery from it
    return app.Table(TABLE, partitions=settings.partitions, key_type=bytes, value_type=bytes)


def producer_sender(app: faust.App, settings: StreamSettings, table: Any) -> Send:
    """Straight to Faust's producer: Topic.send wraps each record in a FutureMessage and a task,
    which cost more than the incident domain per post. Same guarantee: the record is in the
    producer's buffer when this returns, and Faust flushes the producer before it commits
    offsets. Table writes go the same way, awaited, not through Table.__setitem__'s send_soon,
    whose buffer flush before a commit gives up after 0.1 s per record, so a commit could cover
    inputs whose state never reached the changelog (seen as lost posts after a SIGKILL)."""
    names = {t.value: topic(t, settings.prefix) for t in ALL}
    names[CHANGELOG] = table.changelog_topic.get_topic_name()

    async def send(rec: Record) -> None:
        await app.producer.send(names[rec.topic], rec.key, rec.value, rec.partition, None, None)

    return send


async def send_all(send: Send, records: Iterable[Record], faults: Faults) -> None:
    for rec in bounded(records, faults):
        await send(rec)


def add_agents(
    app: faust.App,
    settings: StreamSettings,
    topics: dict[Topic, faust.TopicT],
    classify: ClassifyStage,
    incidents: IncidentStage,
    faults: Faults,
    send: Send,
) -> Agents:
    """Each agent yields once per batch, which lets `test_context()` wait for a batch to be
    done (Faust sends a yielded value nowhere when the agent has no sinks)."""

    async def classify_agent(stream: Any) -> AsyncIterator[int]:
        async for batch in stream.take_events(settings.batch, within=CLASSIFY_WITHIN):
            await send_all(send, classify.apply([_inbound(e) for e in batch]), faults)
            yield len(batch)

    async def route_agent(stream: Any) -> AsyncIterator[int]:
        async for event in stream.events():
            await send_all(send, [route_action(_inbound(event), faults)], faults)
            yield 1

    async def incidents_agent(stream: Any) -> AsyncIterator[int]:
        async for batch in stream.take_events(settings.batch, within=settings.batch_within):
            await send_all(send, incidents.apply([_inbound(e) for e in batch]), faults)
            yield len(batch)

    p = settings.prefix
    return Agents(
        classify=app.agent(topics[Topic.RAW], name=f"{p}classify")(classify_agent),
        route_actions=app.agent(topics[Topic.ACTIONS], name=f"{p}route_actions")(route_agent),
        incidents=app.agent(topics[Topic.CLASSIFIED], name=f"{p}incidents")(incidents_agent),
    )


def _inbound(event: Any) -> Inbound:
    msg = event.message
    return Inbound(value=event.value or b"", partition=msg.partition, offset=msg.offset)


def add_ticker(
    app: faust.App, settings: StreamSettings, send: Send, tick: Callable[[], bytes]
) -> None:
    """Wall-clock ticks for the partitions of posts.classified this worker holds. With N live
    workers each ticking all of them, every partition got N ticks a second; a partition between
    owners misses a tick or two, and the next one fires whatever fell due meanwhile."""
    name = topic(Topic.CLASSIFIED, settings.prefix)

    @app.timer(settings.tick_interval, name=f"{settings.prefix}ticker")
    async def ticker() -> None:
        value = tick()
        for p in sorted(owned_partitions(app, name)):
            await send(Record(Topic.CLASSIFIED, None, value, p))


def owned_partitions(app: faust.App, name: str) -> set[int]:
    """The partitions of topic `name` assigned to this worker (active, not standby)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == name}
