"""Putting records on the pipeline's topics from outside the worker (CLI, replay, tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import msgspec
from aiokafka import AIOKafkaProducer

from monitor.config import CityConfig, incident_params
from monitor.domain.incidents import incident_key
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.service import Classifier
from monitor.store import ArchiveRow
from monitor.topics import ALL, MAX_RECORD_BYTES, DeadLetter, excerpt, topic
from streams.records import (
    ActionIn,
    Classified,
    Tick,
    action_request_decoder,
    encoder,
    input_decoder,
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


async def ensure_topics(broker: str, prefix: str, partitions: int) -> None:
    """Create the pipeline's topics with `partitions` partitions before anyone writes to them:
    an auto-created topic would get the broker's default count and break co-partitioning."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap(broker))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [topic(t, prefix) for t in ALL]
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
    rows: Iterable[ArchiveRow], cfg: CityConfig, dead: list[DeadLetter] | None = None
) -> Sequence[tuple[bytes | None, bytes]]:
    """Archive → posts.classified records, keyed by incident key.

    First the incident agent's inputs in the order it saw them (kind "input"): that order made
    the incidents and their ids. Then accepted posts and actions that never reached it (the
    monitor died first), in the order they were accepted. Each post carries when it was
    accepted, so its times are bounded as they were live (streams/processor.py).

    No archived row can stop a start: one that no longer decodes, that the classifier chokes
    on, or that is over the record limit is left out and described in `dead` (for `dlq`); a
    row the worker refuses or fails on is dead-lettered there, and the worker goes on."""
    classifier = Classifier.from_config(cfg)
    params = incident_params(cfg)
    home = cfg.jurisdiction.code
    all_rows = list(rows)
    refused = dead if dead is not None else []
    out: list[tuple[bytes | None, bytes]] = []
    for row in all_rows:
        if row.kind == "input":
            body = _input_body(row, refused)
            if body is not None:
                out.append((row.key.encode() if row.key else None, body))
    done = {r.id for r in all_rows if r.kind == "input"}
    for row in all_rows:
        if f"{row.kind}:{row.id}" in done or row.kind not in ("post", "action"):
            continue
        try:
            rec = _pending_record(row, classifier, params, home)
        except Exception as exc:  # any row: no input may stop a start
            refused.append(_refusal(row, f"archived {row.kind} refused at replay: {exc}"))
            continue
        if rec is not None and _fits(row, rec[1], refused):
            out.append(rec)
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


def _input_body(row: ArchiveRow, refused: list[DeadLetter]) -> bytes | None:
    try:
        rec = input_decoder.decode(row.body)
    except (msgspec.DecodeError, ValueError) as exc:
        refused.append(_refusal(row, f"archived input does not decode: {exc}"))
        return None
    body = row.body
    if isinstance(rec, Classified) and rec.accepted_at is None:
        # archived before posts carried it: the archive's own time is when it was accepted
        rec = msgspec.structs.replace(rec, accepted_at=_accepted(row))
        body = encoder.encode(rec)
    return body if _fits(row, body, refused) else None


def _pending_record(
    row: ArchiveRow, classifier: Classifier, params: IncidentParams, home: str
) -> tuple[bytes | None, bytes] | None:
    if row.kind == "post":
        post: Post = post_decoder.decode(row.body)
        cls = classifier.classify(post)
        if not cls.is_incident:
            return None
        key = incident_key(cls, home, params)
        rec = Classified(key=key, post=post, cls=cls, accepted_at=_accepted(row))
        return key.encode(), encoder.encode(rec)
    req = action_request_decoder.decode(row.body)
    action = ActionIn(req.key, req.action, req.recorded_at, req.target_key)
    return req.key.encode(), encoder.encode(action)


def _accepted(row: ArchiveRow) -> datetime:
    return datetime.fromisoformat(row.accepted_at)


def _fits(row: ArchiveRow, body: bytes, refused: list[DeadLetter]) -> bool:
    if len(body) <= MAX_RECORD_BYTES:
        return True
    refused.append(_refusal(row, f"too large: archived {row.kind} of {len(body):,} bytes"))
    return False


def _refusal(row: ArchiveRow, reason: str) -> DeadLetter:
    return DeadLetter(
        source="archive", reason=reason, raw=excerpt(row.body), at=datetime.now(UTC),
        where=f"archive seq {row.seq} ({row.kind} {row.id})",
    )  # fmt: skip
