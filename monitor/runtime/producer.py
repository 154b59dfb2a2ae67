"""Putting records on the pipeline's topics from outside the worker (CLI, replay, tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaProducer

from monitor.config import CityConfig
from monitor.domain.incidents import incident_key
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.service import Classifier
from monitor.store import ArchiveRow
from streams.records import (
    ActionIn,
    Classified,
    Tick,
    action_request_decoder,
    encoder,
    post_decoder,
)


def bootstrap(broker: str) -> str:
    return broker.removeprefix("kafka://")


async def send_all(broker: str, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send and wait for every ack: a record counts as accepted only once the broker has it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), linger_ms=5, acks="all")
    await producer.start()
    n = 0
    try:
        futures = []
        for key, value in records:
            futures.append(await producer.send(topic, value, key=key))
            n += 1
        for f in futures:
            await f
    finally:
        await producer.stop()
    return n


TOPICS = (
    "posts.raw", "posts.classified", "incident.events", "notifications", "incident.state",
    "actions", "dlq",
)  # fmt: skip


async def ensure_topics(broker: str, prefix: str, partitions: int) -> None:
    """Create the pipeline's topics with `partitions` partitions before anyone writes to them:
    an auto-created topic would get the broker's default count and break co-partitioning."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(broker))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [f"{prefix}{t}" for t in TOPICS]
        wanted = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if wanted:
            # another process may have created them first
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()


async def send_ticks(broker: str, topic: str, partitions: int, watermark: datetime) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), acks="all")
    await producer.start()
    try:
        value = encoder.encode(Tick(watermark=watermark))
        for p in range(partitions):
            await producer.send_and_wait(topic, value, partition=p)
    finally:
        await producer.stop()


def replay_records(
    rows: Iterable[ArchiveRow], cfg: CityConfig
) -> Sequence[tuple[bytes | None, bytes]]:
    """Archive → posts.classified records, keyed by incident key.

    First the incident agent's inputs in the order it saw them (kind "input"): that order made
    the incidents and their ids. Then accepted posts and actions that never reached it (the
    monitor died first), in the order they were accepted."""
    classifier = Classifier.from_config(cfg)
    params = IncidentParams.from_mapping(cfg.clocks)
    home = cfg.jurisdiction.code
    all_rows = list(rows)
    out: list[tuple[bytes | None, bytes]] = [
        (r.key.encode() if r.key else None, r.body) for r in all_rows if r.kind == "input"
    ]
    done = {r.id for r in all_rows if r.kind == "input"}
    for row in all_rows:
        if f"{row.kind}:{row.id}" in done:
            continue
        if row.kind == "post":
            post: Post = post_decoder.decode(row.body)
            cls = classifier.classify(post)
            if not cls.is_incident:
                continue
            key = incident_key(cls, home, params)
            out.append((key.encode(), encoder.encode(Classified(key=key, post=post, cls=cls))))
        elif row.kind == "action":
            req = action_request_decoder.decode(row.body)
            rec = ActionIn(req.key, req.action, req.recorded_at, req.target_key)
            out.append((req.key.encode(), encoder.encode(rec)))
    return out


class TopicSender:
    """A `Send` (key, body) for a long-lived process: one producer kept open, started on first
    use inside the caller's event loop. `send_all` starts a producer per call, which a web
    process answering actions one by one should not pay each time. A failed send drops the
    producer so the next call starts afresh (the broker may have restarted)."""

    def __init__(self, broker: str, topic: str, timeout: float = 10.0) -> None:
        self.broker = broker
        self.topic = topic
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None
        self._lock: asyncio.Lock | None = None

    async def __call__(self, key: str, body: bytes) -> None:
        producer = await self._started()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(self.topic, body, key=key.encode()), self.timeout
            )
        except BaseException:
            await self.close()
            raise

    async def _started(self) -> AIOKafkaProducer:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=bootstrap(self.broker), acks="all",
                    request_timeout_ms=int(self.timeout * 1000),
                )  # fmt: skip
                try:
                    await asyncio.wait_for(producer.start(), self.timeout)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
