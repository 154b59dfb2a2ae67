"""MonitorSink on real parts (the session's Tansu broker, a SQLite store): archived before
sent; nothing kept while the monitor is down; a broker that moved or went silent leaves the
batch accepted, kept as unsent and sent to wherever the monitor is next."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import create_engine

from connectors.monitor_sink import Endpoint, MonitorDown, MonitorSink, Unsent
from monitor.domain.model import Post
from monitor.runtime.broker import BundledBroker, free_port
from monitor.runtime.producer import ensure_topics
from monitor.store import Store, sqlite_url
from monitor.topics import Topic, topic

pytestmark = pytest.mark.broker

POSTS = [
    Post(id=f"rss:{i}", text=f"安岳县一民房起火 {i}", published_at=datetime(2026, 11, 1, 8, i, tzinfo=UTC))
    for i in range(3)
]


class StoreArchive:
    def __init__(self, url: str) -> None:
        self.store = Store(url)
        self.fail: Exception | None = None

    def archive(self, bodies: Sequence[tuple[str, bytes]]) -> None:
        if self.fail is not None:
            raise self.fail
        self.store.archive_many([("post", pid, body, None) for pid, body in bodies])

    def close(self) -> None:
        self.store.close()


class Where:
    """What runtime.json would say; tests move the monitor by changing it."""

    def __init__(self, live: Endpoint) -> None:
        self.live = live  # the test broker: where the monitor is while all is well
        self.endpoint: Endpoint | None = live

    def __call__(self) -> Endpoint | None:
        return self.endpoint


@pytest.fixture
def parts(tmp_path: Path, broker: BundledBroker) -> Iterator[tuple[MonitorSink, Where, str]]:
    prefix = f"ms{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(broker.url, prefix, 1))
    db = sqlite_url(tmp_path / "monitor.db")
    where = Where(Endpoint(broker.bootstrap, topic(Topic.RAW, prefix), topic(Topic.DLQ, prefix), db))
    archives: dict[str, StoreArchive] = {}

    def open_archive(url: str) -> StoreArchive:
        archives[url] = StoreArchive(url)
        return archives[url]

    sink = MonitorSink(where, open_archive, Unsent(create_engine(sqlite_url(tmp_path / "cp.db"))),
                       dead_letter_file=tmp_path / "dlq.jsonl", send_timeout=3)  # fmt: skip
    yield sink, where, db
    for a in archives.values():
        a.close()


def archived(db: str) -> list[str]:
    store = Store(db)
    try:
        return [r.id for r in store.archived()]
    finally:
        store.close()


def on_topic(bootstrap: str, topic: str, want: int, polls: int = 50) -> list[str]:
    async def read() -> list[str]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        got: list[str] = []
        try:
            for _ in range(polls):
                batch = await consumer.getmany(timeout_ms=200)
                got += [msgspec.json.decode(m.value)["id"] for ms in batch.values() for m in ms]
                if len(got) >= want:
                    break
        finally:
            await consumer.stop()
        return got

    return asyncio.run(read())


def test_archived_then_on_the_broker(parts: tuple[MonitorSink, Where, str]) -> None:
    sink, where, db = parts
    live = where.live

    async def go() -> None:
        await sink.start()
        await sink.send(POSTS)
        await sink.stop()

    asyncio.run(go())
    ids = [p.id for p in POSTS]
    assert archived(db) == ids
    assert on_topic(live.bootstrap, live.topic, 3) == ids
    assert sink.unsent.count() == 0


def test_monitor_down_keeps_nothing_and_says_so(parts: tuple[MonitorSink, Where, str]) -> None:
    sink, where, db = parts
    where.endpoint = None
    with pytest.raises(MonitorDown):
        asyncio.run(sink.send(POSTS))
    assert not sink.ready()
    assert archived(db) == [] and sink.unsent.count() == 0


def test_archive_failure_sends_nothing(parts: tuple[MonitorSink, Where, str]) -> None:
    sink, where, db = parts
    live = where.live
    sink._archiver(db).fail = OSError(28, "No space left on device")  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="No space"):
        asyncio.run(sink.send(POSTS))
    assert sink.unsent.count() == 0
    assert on_topic(live.bootstrap, live.topic, 1, polls=10) == []


def test_broker_gone_then_moved_accepts_and_delivers_later(
    parts: tuple[MonitorSink, Where, str],
) -> None:
    """The monitor restarted: runtime.json still names a dead broker for a moment."""
    sink, where, db = parts
    live = where.live
    gone = Endpoint(f"127.0.0.1:{free_port()}", live.topic, live.dlq_topic, db)
    where.endpoint = gone

    async def go() -> int:
        await sink.send(POSTS)  # accepted: archived, kept as unsent
        assert sink.unsent.count() == 3
        where.endpoint = live  # the monitor is back on another port
        sent = await sink.redeliver()
        await sink.stop()
        return sent

    assert asyncio.run(go()) == 3
    assert archived(db) == [p.id for p in POSTS]
    assert sorted(on_topic(live.bootstrap, live.topic, 3)) == sorted(p.id for p in POSTS)
    assert sink.unsent.count() == 0


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """Accepts connections and never answers: a broker frozen (SIGSTOP) or a dead host."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for s in held:
        s.close()
    server.close()


def test_close_soon_gives_up_on_a_silent_broker_keeping_the_batch(
    parts: tuple[MonitorSink, Where, str], silent_broker: str
) -> None:
    sink, where, db = parts
    live = where.live
    where.endpoint = Endpoint(silent_broker, live.topic, live.dlq_topic, db)
    sink.send_timeout = 600  # without close_soon this send would wait ten minutes

    async def go() -> None:
        task = asyncio.create_task(sink.send(POSTS))
        while archived(db) == []:  # archived: now it waits on the broker
            await asyncio.sleep(0.05)
        sink.close_soon()
        await asyncio.wait_for(task, 30)  # returns: the batch is accepted

    asyncio.run(go())
    assert sink.unsent.count() == 3 and archived(db) == [p.id for p in POSTS]


def test_dead_letters_kept_in_the_data_dir_while_the_monitor_is_down(
    parts: tuple[MonitorSink, Where, str], tmp_path: Path
) -> None:
    from connectors.base import dead_letter

    sink, where, _ = parts
    where.endpoint = None
    asyncio.run(sink.dead_letter([dead_letter("rss", "bad item", {"x": 1}, datetime.now(UTC))]))
    lines = (tmp_path / "dlq.jsonl").read_text().splitlines()
    assert len(lines) == 1 and msgspec.json.decode(lines[0])["reason"] == "bad item"


def test_a_post_over_a_field_limit_is_dead_lettered_not_archived(
    parts: tuple[MonitorSink, Where, str],
) -> None:
    """Archived, it would be refused at every replay; checked first, it never is."""
    from monitor.domain.model import MAX_TEXT_CHARS

    sink, where, db = parts
    live = where.live
    long = Post(id="rss:long", text="字" * (MAX_TEXT_CHARS + 1), source="feed",
                published_at=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip

    async def go() -> None:
        await sink.start()
        await sink.send([POSTS[0], long])
        await sink.stop()

    asyncio.run(go())
    assert archived(db) == [POSTS[0].id]
    [dead] = [msgspec.json.decode(v) for v in _values(live.bootstrap, live.dlq_topic)]
    assert dead["where"] == "rss:long" and "$.text" in dead["reason"]


def _values(bootstrap: str, topic: str) -> list[bytes]:
    async def read() -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=2000)
            return [m.value for ms in batch.values() for m in ms if m.value]
        finally:
            await consumer.stop()

    return asyncio.run(read())


def test_a_long_native_id_becomes_a_digest() -> None:
    from connectors.rss import RssSource
    from monitor.domain.model import MAX_ID_CHARS

    source = RssSource(name="feed", url="http://127.0.0.1:9/feed.xml")
    assert source.post_id("abc") == "rss:abc"
    long = source.post_id("https://example.invalid/" + "x" * 400)
    assert len(long) <= MAX_ID_CHARS and long.startswith("rss:sha1:")
    assert long == source.post_id("https://example.invalid/" + "x" * 400)
