"""Where sources put posts. `send` returns only once the batch is durable (acked).

The runner advances a checkpoint only after `send` returned, so a crash between the two
repeats the batch rather than losing it. Repeats carry the same post ids; consumers of
`posts.raw` drop them by id (and the checkpoint store drops them on the next poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from monitor.domain.model import Post
from monitor.topics import DeadLetter, Topic

__all__ = ["DLQ_TOPIC", "POSTS_TOPIC", "DeadLetter"]

POSTS_TOPIC = Topic.RAW.value
DLQ_TOPIC = Topic.DLQ.value


class SinkUnavailable(ConnectionError):
    """The sink cannot take posts now, through no fault of the source (the monitor it feeds
    is not running). Nothing was kept. A runner waits for the sink rather than backing off
    the source."""


class Sink(Protocol):
    async def send(self, posts: Sequence[Post]) -> None: ...

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None: ...

    # optional: `def ready(self) -> bool`, False while sending would raise SinkUnavailable


class MemorySink:
    """Keeps everything in lists; `fail_next` makes the next send raise (crash tests)."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.dead: list[DeadLetter] = []
        self.fail_next = 0

    async def send(self, posts: Sequence[Post]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("memory sink told to fail")
        self.posts.extend(posts)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        self.dead.extend(records)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.posts]


class KafkaSink:
    """aiokafka producer: posts to `posts.raw` keyed by post id, dead letters to `dlq`.

    acks="all", and `send` awaits every delivery, so "returned" means the broker has the batch.
    The idempotent producer stays off: the bundled Tansu broker rejects InitProducerId. A
    retried send can therefore repeat a record; consumers drop repeats by post id.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str = POSTS_TOPIC,
        dlq_topic: str = DLQ_TOPIC,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.dlq_topic = dlq_topic
        self._encoder = msgspec.json.Encoder()
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        # Built here, not in __init__: aiokafka binds the running event loop.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            linger_ms=5,
        )
        await self._producer.start()

    async def stop(self, timeout: float = 2.0) -> None:
        """Bounded: flushing to a broker that is gone would wait aiokafka's 40 s."""
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(producer.stop(), timeout)

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _started(self) -> Any:
        if self._producer is None:
            raise RuntimeError("KafkaSink.start() was not awaited")
        return self._producer

    async def send(self, posts: Sequence[Post]) -> None:
        producer = self._started()
        futures = [
            await producer.send(self.topic, self._encoder.encode(p), key=p.id.encode())
            for p in posts
        ]
        for fut in futures:
            await fut

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        producer = self._started()
        futures = [
            await producer.send(self.dlq_topic, self._encoder.encode(r), key=r.source.encode())
            for r in records
        ]
        for fut in futures:
            await fut


class JsonlFileSink:
    """Appends posts as JSON lines to a file and fsyncs before returning (demos, replays).

    Dead letters go to a sibling file `<name>.dlq.jsonl`.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.dlq_path = f"{path.removesuffix('.jsonl')}.dlq.jsonl"
        self._encoder = msgspec.json.Encoder()

    def _append(self, path: str, records: Sequence[msgspec.Struct]) -> None:
        if not records:
            return
        data = b"".join(self._encoder.encode(r) + b"\n" for r in records)
        with open(path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    async def send(self, posts: Sequence[Post]) -> None:
        await asyncio.to_thread(self._append, self.path, posts)

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        await asyncio.to_thread(self._append, self.dlq_path, records)
