"""The Faust app: topics, the bucket Table and thin agents that call the domain.

    posts.raw ──classify──▶ posts.classified ──incidents──▶ incident.events, notifications,
    actions ──route──────▶      (key = incident key)            incident.state (read model)
    bad records ─▶ dlq                                       ──sink──▶ store

`posts.classified` is keyed by incident key (city × category family), so a post and every
incident it could join live on one partition, in the Table partition of the same number; more
workers split the keys. Clock ticks travel on the same topic, one per partition, so they are
ordered with the posts and actions they follow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import msgspec

from monitor.config import load_config
from monitor.domain.actions import ActionError
from monitor.domain.incidents import incident_key
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from monitor.metrics import Metrics
from monitor.service import Classifier
from streams.processor import Bucket, Processor, Result, UnknownIncident, routing_router
from streams.records import (
    Absorb,
    ActionIn,
    Classified,
    ClassifiedBatch,
    DeadLetter,
    Tick,
    action_request_decoder,
    encoder,
    input_decoder,
    post_decoder,
    unbatch,
)
from streams.settings import TUNED, StreamSettings
from streams.tuning import FastFetchApp

log = logging.getLogger(__name__)
bucket_decoder = msgspec.json.Decoder(Bucket)

RAW = "posts.raw"
CLASSIFIED = "posts.classified"
EVENTS = "incident.events"
NOTIFICATIONS = "notifications"
STATE = "incident.state"
ACTIONS = "actions"
DLQ = "dlq"
CLASSIFY_WITHIN = 0.01  # s; the classify agent's batch wait, added to detection latency
# A ClassifiedBatch stays well under the producer's 1 MB request limit (Faust's default).
MAX_BATCH_BYTES = 256 * 1024


@dataclass
class Pipeline:
    app: faust.App
    settings: StreamSettings
    metrics: Metrics
    topics: dict[str, faust.TopicT]


def build_app(
    settings: StreamSettings,
    metrics: Metrics | None = None,
    on_app: Callable[[faust.App], None] | None = None,
) -> Pipeline:
    cfg = load_config(settings.config_path)
    classifier = Classifier.from_config(cfg)
    params = IncidentParams.from_mapping(cfg.clocks)
    processor = Processor(params, cfg.jurisdiction.code, routing_router(classifier.routing))
    m = metrics or Metrics.create()
    app_class = FastFetchApp if settings.tuned else faust.App
    app = app_class(
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
        **(TUNED if settings.tuned else {}),
    )
    topics = {
        name: app.topic(
            settings.topic(name),
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        for name in (RAW, CLASSIFIED, EVENTS, NOTIFICATIONS, STATE, ACTIONS, DLQ)
    }
    names = {name: settings.topic(name) for name in topics}

    async def send(
        name: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> None:
        """Straight to Faust's producer: Topic.send wraps each record in a FutureMessage and a
        task, which cost more than the incident domain per post. Same guarantee: the record is
        in the producer's buffer when this returns, and Faust flushes the producer before it
        commits offsets; partition None partitions by key with the same partitioner."""
        await app.producer.send(names[name], key, value, partition, None, None)

    # bytes → the "raw" codec, for the changelog and for recovery from it
    table = app.Table("buckets", partitions=settings.partitions, key_type=bytes, value_type=bytes)
    cache: dict[bytes, tuple[bytes, Bucket]] = {}

    def read_bucket(key: bytes) -> Bucket | None:
        raw = table.get(key)
        hit = cache.get(key)
        if raw is None:
            return hit[1] if hit is not None else None
        if hit is not None and hit[0] is raw:
            return hit[1]
        bucket = bucket_decoder.decode(raw)
        if hit is not None and hit[1].seq > bucket.seq:
            # Faust resumes the agents before changelog recovery has finished, and recovery
            # then writes older values over newer ones (seen as posts lost after a rebalance).
            # The copy with more inputs applied is the newer one; after losing and regaining a
            # partition the table's copy wins the same way.
            return hit[1]
        cache[key] = (raw, bucket)
        return bucket

    async def dead(topic: str, reason: str, raw: bytes | None, event: Any = None) -> None:
        msg = getattr(event, "message", None)
        kind = reason.split(":", 1)[0]
        m.dead_letters.labels(topic, kind).inc()
        letter = DeadLetter(
            topic=topic,
            partition=getattr(msg, "partition", None),
            offset=getattr(msg, "offset", None),
            reason=reason,
            raw=(raw or b"").decode("utf-8", "replace")[:10_000],
            at=datetime.now(UTC),
        )
        log.warning("dead letter from %s: %s", topic, reason)
        await send(DLQ, topic.encode(), encoder.encode(letter))

    async def publish(res: Result) -> None:
        # metrics move once per batch and kind: a labelled inc() per record cost more than
        # the send
        for kind, count in Counter(e.kind.value for e in res.events).items():
            m.events.labels(kind).inc(count)
        for step, count in Counter(i.step.value for i in res.notifications).items():
            m.notifications.labels(step).inc(count)
        for e in res.events:
            await send(EVENTS, e.incident_id.encode(), encoder.encode(e))
        for n in res.notifications:
            await send(NOTIFICATIONS, n.incident_id.encode(), encoder.encode(n))
        for s in res.changed.values():
            await send(STATE, s.id.encode(), encoder.encode(s))
        for rec in res.forward:  # after this bucket's own state is on its way
            await send(CLASSIFIED, rec.key.encode(), encoder.encode(rec))

    @app.agent(topics[RAW], name=f"{settings.prefix}classify")
    async def classify(stream: Any) -> None:
        # In batches: the metrics move once per batch, and the posts of one incident key leave
        # as one ClassifiedBatch record (see streams/records.py for why).
        async for batch in stream.take_events(settings.batch, within=CLASSIFY_WITHIN):
            m.posts_in.inc(len(batch))
            ignored = 0
            by_key: dict[str, list[bytes]] = {}
            for event in batch:
                raw = event.value
                try:
                    post = post_decoder.decode(raw)
                    cls = classifier.classify(post)
                except (msgspec.DecodeError, ValueError) as exc:
                    await dead(settings.topic(RAW), f"bad post: {exc}", raw, event)
                    continue
                if not cls.is_incident:
                    ignored += 1
                    continue
                key = incident_key(cls, cfg.jurisdiction.code, params)
                by_key.setdefault(key, []).append(encoder.encode(Classified(key, post, cls)))
            m.posts_ignored.inc(ignored)
            for key, items in by_key.items():
                for chunk in _chunks(items, MAX_BATCH_BYTES):
                    rec = ClassifiedBatch(key, tuple(msgspec.Raw(b) for b in chunk))
                    await send(CLASSIFIED, key.encode(), encoder.encode(rec))

    @app.agent(topics[ACTIONS], name=f"{settings.prefix}route_actions")
    async def route_actions(stream: Any) -> None:
        async for event in stream.events():
            try:
                req = action_request_decoder.decode(event.value)
            except msgspec.DecodeError as exc:
                await dead(settings.topic(ACTIONS), f"bad action: {exc}", event.value, event)
                continue
            rec = ActionIn(req.key, req.action, req.recorded_at, req.target_key)
            await send(CLASSIFIED, req.key.encode(), encoder.encode(rec))

    pending: dict[bytes, Bucket] = {}  # buckets changed in the current batch

    inputs: Counter[str] = Counter()  # by kind, for the metric, counted per batch

    def current(key: bytes) -> Bucket | None:
        return pending.get(key) or read_bucket(key)

    def handle(rec: Any, partition: int, out: Result) -> None:
        """Apply one input; collect what to publish into `out`. Raises for refused input."""
        if isinstance(rec, Tick):
            inputs["tick"] += 1
            for key in {*table.keys(), *pending}:
                bucket = current(key)
                if bucket is None or bucket.partition != partition:
                    continue
                res = processor.on_tick(bucket, rec.watermark)
                if res.changed or res.bucket != bucket:
                    pending[key] = res.bucket
                _merge(out, res)
            m.watermark.set(rec.watermark.timestamp())
            buckets = (current(k) for k in {*table.keys(), *pending})
            m.incidents_live.set(sum(1 for b in buckets if b for s in b.incidents if s.status.live))
            return
        key = rec.key.encode()
        bucket = current(key) or Bucket(key=rec.key, partition=partition)
        if isinstance(rec, Classified):
            inputs["post"] += 1
            res = processor.on_post(bucket, rec.post, rec.cls)
        elif isinstance(rec, Absorb):
            inputs["absorb"] += 1
            res = processor.on_absorb(bucket, rec)
        else:
            inputs["action"] += 1
            res = processor.on_action(bucket, rec.action, rec.recorded_at, rec.target_key)
        pending[key] = res.bucket
        _merge(out, res)

    async def flush_buckets() -> None:
        # One changelog write per key per batch, not per record: a bucket is the size of all
        # its incidents, and writing it for every post was most of the cost.
        # Awaited send, not Table.__setitem__'s send_soon: the latter goes through Faust's
        # ProducerBuffer, whose flush before an offset commit gives up after 0.1 s per record,
        # so a commit could cover inputs whose state never reached the changelog (seen as
        # lost posts after a SIGKILL). A direct send is covered by the producer flush.
        for key, bucket in pending.items():
            raw = encoder.encode(bucket)
            table.data[key] = raw
            cache[key] = (raw, bucket)
            await table.changelog_topic.send(key=key, value=raw, partition=bucket.partition)
        pending.clear()

    def refusal(rec: Any, partition: int, out: Result) -> tuple[str, str] | None:
        """Apply `rec`; the (topic, reason) to dead-letter it under if it is refused."""
        try:
            handle(rec, partition, out)
        except (UnknownIncident, ActionError) as exc:
            return settings.topic(ACTIONS), f"action refused: {exc}"
        except ValueError as exc:  # a post the domain refuses (e.g. a naive time)
            return settings.topic(CLASSIFIED), f"refused: {exc}"
        return None

    @app.agent(topics[CLASSIFIED], name=f"{settings.prefix}incidents")
    async def incidents_agent(stream: Any) -> None:
        in_topic = settings.topic(CLASSIFIED)
        async for batch in stream.take_events(settings.batch, within=settings.batch_within):
            out = Result(Bucket(key="", partition=-1))
            for event in batch:
                raw = event.value
                partition = event.message.partition
                try:
                    rec = input_decoder.decode(raw)
                except msgspec.DecodeError as exc:
                    await dead(in_topic, f"bad input: {exc}", raw, event)
                    continue
                items = unbatch(rec) if isinstance(rec, ClassifiedBatch) else [(raw, rec)]
                for body, one in items:
                    if isinstance(one, str):
                        await dead(in_topic, one, body, event)
                    elif (why := refusal(one, partition, out)) is not None:
                        await dead(why[0], why[1], body, event)
            await flush_buckets()
            await publish(out)
            for kind, n in inputs.items():
                m.inputs.labels(kind).inc(n)
            inputs.clear()
            now_ms = time.time() * 1000
            for event in batch:
                m.processing.observe(max(0.0, (now_ms - event.message.timestamp) / 1000))

    if settings.live:

        @app.timer(settings.tick_interval, name=f"{settings.prefix}ticker")
        async def ticker() -> None:
            # Only the partitions this worker holds: with N live workers each ticking all of
            # them, every partition got N ticks a second. A partition between owners misses a
            # tick or two; the next one fires whatever fell due meanwhile.
            value = encoder.encode(Tick(watermark=datetime.now(UTC)))
            for p in sorted(owned_partitions(app, names[CLASSIFIED])):
                await send(CLASSIFIED, None, value, p)

    if settings.store_url:
        _add_sink(app, settings, topics, m)
    if on_app is not None:
        on_app(app)
    return Pipeline(app=app, settings=settings, metrics=m, topics=topics)


def owned_partitions(app: faust.App, topic: str) -> set[int]:
    """The partitions of `topic` assigned to this worker (active, not standby)."""
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def _chunks(items: list[bytes], limit: int) -> Iterator[list[bytes]]:
    """Consecutive runs of `items` of at most `limit` bytes each (an item larger than the limit
    goes alone)."""
    run: list[bytes] = []
    size = 0
    for item in items:
        if run and size + len(item) > limit:
            yield run
            run, size = [], 0
        run.append(item)
        size += len(item)
    if run:
        yield run


def _merge(into: Result, res: Result) -> None:
    into.events.extend(res.events)
    into.notifications.extend(res.notifications)
    into.changed.update(res.changed)  # the newest state of each incident in the batch
    into.forward.extend(res.forward)


def _add_sink(
    app: faust.App, settings: StreamSettings, topics: dict[str, faust.TopicT], m: Metrics
) -> None:
    """Writes what the incident agent emitted into the store, in batches, off the event loop.
    Every write is idempotent, so a batch redelivered after a crash changes nothing."""
    from monitor.domain.events import Event, NotificationIntent
    from monitor.store import Store

    assert settings.store_url is not None
    store = Store(settings.store_url)
    ev_dec = msgspec.json.Decoder(Event)
    nt_dec = msgspec.json.Decoder(NotificationIntent)
    st_dec = msgspec.json.Decoder(IncidentState)

    def sink(name: str, write: Callable[[list[bytes]], Awaitable[None]]) -> None:
        async def agent(stream: Any) -> None:
            async for batch in stream.take(1000, within=0.1):
                await write(batch)

        app.agent(topics[name], name=f"{settings.prefix}sink_{name}")(agent)

    async def write_events(batch: list[bytes]) -> None:
        n = await asyncio.to_thread(store.record_events, [ev_dec.decode(b) for b in batch])
        m.store_writes.labels("events").inc(n)

    async def write_outbox(batch: list[bytes]) -> None:
        n = await asyncio.to_thread(store.add_outbox, [nt_dec.decode(b) for b in batch])
        m.store_writes.labels("outbox").inc(n)

    async def write_states(batch: list[bytes]) -> None:
        states = [st_dec.decode(b) for b in batch]
        await asyncio.to_thread(store.save_states, states)
        m.store_writes.labels("incidents").inc(len(states))

    async def archive_posts(batch: list[bytes]) -> None:
        rows = []
        for raw in batch:
            try:
                rows.append(("post", post_decoder.decode(raw).id, raw, None))
            except msgspec.DecodeError:
                continue  # the classify agent dead-letters it
        n = await asyncio.to_thread(store.archive_many, rows)
        m.store_writes.labels("archive").inc(n)

    async def archive_actions(batch: list[bytes]) -> None:
        rows = []
        for raw in batch:
            try:
                req = action_request_decoder.decode(raw)
            except msgspec.DecodeError:
                continue  # the route agent dead-letters it
            rows.append(("action", req.action.id, raw, req.key))
        n = await asyncio.to_thread(store.archive_many, rows)
        m.store_writes.labels("archive").inc(n)

    async def archive_inputs(batch: list[bytes]) -> None:
        # The incident agent's input in the order it saw it: replaying this log rebuilds the
        # same incidents with the same ids, which the order of posts.raw alone would not.
        # A batch is archived as its posts, each as a single `Classified` record.
        rows = []
        for raw in batch:
            try:
                rec = input_decoder.decode(raw)
            except msgspec.DecodeError:
                continue  # the incident agent dead-letters it
            items = unbatch(rec) if isinstance(rec, ClassifiedBatch) else [(raw, rec)]
            for body, one in items:  # an item that does not decode is dead-lettered there too
                if isinstance(one, Classified) and one.forwarded_from is None:
                    rows.append(("input", f"post:{one.post.id}", body, one.key))
                elif isinstance(one, ActionIn):
                    rows.append(("input", f"action:{one.action.id}", body, one.key))
        n = await asyncio.to_thread(store.archive_many, rows)
        m.store_writes.labels("archive").inc(n)

    sink(RAW, archive_posts)
    sink(CLASSIFIED, archive_inputs)
    sink(ACTIONS, archive_actions)
    sink(EVENTS, write_events)
    sink(NOTIFICATIONS, write_outbox)
    sink(STATE, write_states)
