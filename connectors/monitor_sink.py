"""The sink into a running `monitor run`, found again after every restart of it.

The monitor says where it is in its data directory (runtime.json: broker URL, topic prefix,
database); its bundled broker gets a new port at every start. So each batch first asks where
the monitor is now (`resolve`, cheap: one small file and a pid check), then:

1. archives the posts in the monitor's store. Only now are they accepted: `monitor run`
   replays its archive when it starts, so from here nothing is lost. If the monitor is not
   running, nothing is archived and `send` raises `MonitorDown` (a push answers 503 at once,
   and a polled source waits, see `ready`);
2. sends them to the monitor's broker, within `send_timeout`. If that fails (the monitor died
   or restarted in between) the batch is still accepted: it goes to `connector_unsent` in the
   checkpoint database, and a background task sends it to whichever broker the monitor has
   next. A repeat is harmless: every consumer drops a post it has by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import msgspec
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)

from connectors.sink import DeadLetter, SinkUnavailable
from monitor.domain.model import Post, checked
from monitor.store import dialect_insert
from monitor.topics import excerpt

log = logging.getLogger(__name__)
SEND_TIMEOUT = 5.0  # s per attempt; aiokafka alone waits 40 s on a broker that is gone
STOP_TIMEOUT = 2.0
REDELIVER_EVERY = 1.0
READY_POLL = 0.3


class MonitorDown(SinkUnavailable):
    """No `monitor run` is running for the data directory: nothing was archived or sent."""


@dataclass(frozen=True)
class Endpoint:
    """Where the monitor is now."""

    bootstrap: str  # host:port of its broker
    topic: str
    dlq_topic: str
    db: str


class Archiver(Protocol):
    def archive(self, bodies: Sequence[tuple[str, bytes]]) -> None: ...

    def close(self) -> None: ...


Resolve = Callable[[], Endpoint | None]
OpenArchive = Callable[[str], Archiver]

_meta = MetaData()
unsent_table = Table(
    "connector_unsent",
    _meta,
    Column("post_id", String(400), primary_key=True),
    Column("body", Text, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)


class Unsent:
    """Posts archived in the monitor's store but not yet on its broker (durable, by id)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _meta.create_all(engine)

    def add(self, bodies: Sequence[tuple[str, bytes]], now: datetime) -> None:
        rows = [{"post_id": i, "body": b.decode(), "archived_at": now} for i, b in bodies]
        if not rows:
            return
        stmt = dialect_insert(self.engine, unsent_table).on_conflict_do_nothing(
            index_elements=["post_id"]
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def oldest(self, limit: int = 500) -> list[tuple[str, bytes]]:
        q = select(unsent_table.c.post_id, unsent_table.c.body).order_by(
            unsent_table.c.archived_at, unsent_table.c.post_id
        )
        with self.engine.connect() as conn:
            return [(i, b.encode()) for i, b in conn.execute(q.limit(limit))]

    def remove(self, ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(unsent_table).where(unsent_table.c.post_id.in_(list(ids))))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(unsent_table)).scalar_one())


class MonitorSink:
    """Archive-then-send into whichever `monitor run` the data directory names right now."""

    def __init__(
        self,
        resolve: Resolve,
        open_archive: OpenArchive,
        unsent: Unsent,
        *,
        dead_letter_file: Path,
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.resolve = resolve
        self.open_archive = open_archive
        self.unsent = unsent
        self.dead_letter_file = dead_letter_file
        self.send_timeout = send_timeout
        self._encoder = msgspec.json.Encoder()
        self._archivers: dict[str, Archiver] = {}
        self._producer: Any = None
        self._producer_for: str | None = None
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._redeliver_task: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._redeliver_task = asyncio.create_task(self._redeliver_forever())
        self._wake.set()  # posts left unsent by an earlier run go first

    async def stop(self) -> None:
        """Bounded: a producer flushing to a broker that is gone would wait 40 s."""
        if self._redeliver_task is not None:
            self._redeliver_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._redeliver_task
        await self._drop_producer()
        for archiver in self._archivers.values():
            archiver.close()
        self._archivers.clear()

    def close_soon(self) -> None:
        """The process is stopping: a send still waiting on the broker gives up now, and its
        archived posts are kept as unsent (the sender's answer is still "accepted")."""
        self._closing.set()

    def ready(self) -> bool:
        """True while a monitor is running to take posts (polled sources wait for it)."""
        return self._resolve() is not None

    # --- the Sink protocol -----------------------------------------------------------------

    async def send(self, posts: Sequence[Post]) -> None:
        endpoint = self._resolve()
        if endpoint is None:
            raise MonitorDown("the monitor is not running: nothing was archived, send again")
        posts = await self._within_limits(posts)
        bodies = [(p.id, self._encoder.encode(p)) for p in posts]
        await asyncio.to_thread(self._archiver(endpoint.db).archive, bodies)
        # accepted from here on: the archive is replayed when the monitor starts
        try:
            await self._deliver(endpoint, bodies)
        except BaseException as exc:
            log.warning("monitor broker unreachable (%s); %d posts archived, sent later",
                        type(exc).__name__, len(bodies))  # fmt: skip
            # in this thread, not a worker's: a cancelled send must still leave them recorded
            self.unsent.add(bodies, datetime.now(UTC))
            self._wake.set()
            if not isinstance(exc, Exception):
                raise

    async def dead_letter(self, records: Sequence[DeadLetter]) -> None:
        endpoint = self._resolve()
        body = [(r.source.encode(), self._encoder.encode(r)) for r in records]
        if endpoint is not None:
            try:
                await self._produce(endpoint, endpoint.dlq_topic, body)
                return
            except Exception as exc:
                log.warning("dead letters to the data dir file: %s", type(exc).__name__)
        # the monitor is away: its data directory keeps them, never dropped
        await asyncio.to_thread(self._append_dead, [v for _, v in body])

    # --- internals -------------------------------------------------------------------------

    async def _within_limits(self, posts: Sequence[Post]) -> list[Post]:
        """Posts within every field limit (monitor.domain.model); the others are dead-lettered
        here, before the archive: archived, they would be refused at every replay."""
        good: list[Post] = []
        bad: list[DeadLetter] = []
        for p in posts:
            try:
                good.append(checked(p))
            except msgspec.ValidationError as exc:
                bad.append(DeadLetter(
                    source=p.source or "connector", reason=f"invalid post: {exc}",
                    raw=excerpt(self._encoder.encode(p)), at=datetime.now(UTC), where=p.id[:200],
                ))  # fmt: skip
        if bad:
            await self.dead_letter(bad)
        return good

    def _resolve(self) -> Endpoint | None:
        try:
            return self.resolve()
        except (OSError, ValueError, TypeError) as exc:  # a data dir half moved: not running
            log.warning("cannot read where the monitor is: %s", exc)
            return None

    def _archiver(self, db: str) -> Archiver:
        if db not in self._archivers:
            self._archivers[db] = self.open_archive(db)
        return self._archivers[db]

    async def _deliver(self, endpoint: Endpoint, bodies: Sequence[tuple[str, bytes]]) -> None:
        records = [(pid.encode(), body) for pid, body in bodies]
        try:
            await self._produce(endpoint, endpoint.topic, records)
        except Exception:
            again = None if self._closing.is_set() else self._resolve()
            if again is None or again.bootstrap == endpoint.bootstrap:
                raise
            # the monitor restarted on a new broker between the two looks: once more there
            await self._produce(again, again.topic, records)

    async def _produce(
        self, endpoint: Endpoint, topic: str, records: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """Every record acknowledged within `send_timeout`, or an exception; gives up at once
        when the process is stopping (`close_soon`)."""
        sending = asyncio.ensure_future(self._send_all(endpoint.bootstrap, topic, records))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            done, _ = await asyncio.wait({sending, closing}, timeout=self.send_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            if sending in done:
                return sending.result()
            why = "stopping" if closing in done else f"no answer in {self.send_timeout:g} s"
            raise TimeoutError(f"broker {endpoint.bootstrap}: {why}")
        except BaseException:
            sending.cancel()
            await self._drop_producer()  # next time, a fresh connection to wherever it is
            raise
        finally:
            closing.cancel()

    async def _send_all(
        self, bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]
    ) -> None:
        producer = await self._producer_at(bootstrap)
        futures = [await producer.send(topic, v, key=k) for k, v in records]
        for fut in futures:
            await fut

    async def _producer_at(self, bootstrap: str) -> Any:
        if self._producer is not None and self._producer_for == bootstrap:
            return self._producer
        await self._drop_producer()
        from aiokafka import AIOKafkaProducer

        ms = int(self.send_timeout * 1000)
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5,
                                    request_timeout_ms=ms)  # fmt: skip
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), STOP_TIMEOUT)
            raise
        self._producer, self._producer_for = producer, bootstrap
        return producer

    async def _drop_producer(self) -> None:
        producer, self._producer, self._producer_for = self._producer, None, None
        if producer is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(producer.stop(), STOP_TIMEOUT)

    async def _redeliver_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REDELIVER_EVERY):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.redeliver()
            except Exception as exc:
                log.info("unsent posts wait for the monitor: %s", type(exc).__name__)

    async def redeliver(self) -> int:
        """Send what was archived but not delivered; the number sent."""
        sent = 0
        while True:
            batch = await asyncio.to_thread(self.unsent.oldest)
            endpoint = self._resolve() if batch and not self._closing.is_set() else None
            if endpoint is None:
                return sent
            await self._deliver(endpoint, batch)
            await asyncio.to_thread(self.unsent.remove, [i for i, _ in batch])
            sent += len(batch)

    def _append_dead(self, values: Sequence[bytes]) -> None:
        self.dead_letter_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dead_letter_file, "ab") as fh:
            fh.write(b"".join(v + b"\n" for v in values))
            fh.flush()
            os.fsync(fh.fileno())
