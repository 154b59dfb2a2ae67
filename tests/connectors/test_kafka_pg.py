"""Real parts: the Kafka sink on the bundled Tansu broker, the checkpoint store on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from connectors.checkpoint import CheckpointStore
from connectors.rss import RssSource
from connectors.sink import DeadLetter, KafkaSink
from monitor.domain.model import Post
from monitor.runtime.broker import BundledBroker
from tests.conftest import postgres_schema
from tests.connectors.conftest import FIXTURES, Reply


@pytest.fixture(scope="module")
def bootstrap(broker: BundledBroker) -> str:
    return broker.bootstrap


async def create_topics(bootstrap: str, *names: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [n for n in names if n not in existing]
        if wanted:
            await admin.create_topics(
                [NewTopic(n, num_partitions=1, replication_factor=1) for n in wanted]
            )
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(50):
            batch = await consumer.getmany(timeout_ms=200)
            out += [(m.key, m.value) for msgs in batch.values() for m in msgs]
            if len(out) >= expected:
                break
    finally:
        await consumer.stop()
    return out


@pytest.mark.broker
async def test_kafka_sink_keys_by_post_id_and_writes_dead_letters(bootstrap: str) -> None:
    topic, dlq = f"posts-{uuid.uuid4().hex[:8]}", f"dlq-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, topic, dlq)
    now = datetime(2026, 4, 19, 2, 0, tzinfo=UTC)
    posts = [Post(id=f"rss:{i}", text=f"第{i}条", published_at=now, reposts=i) for i in range(3)]
    async with KafkaSink(bootstrap, topic=topic, dlq_topic=dlq) as sink:
        await sink.send(posts)
        await sink.dead_letter([DeadLetter(source="s", reason="bad_item: x", raw="{}", at=now)])
    got = await read_all(bootstrap, topic, 3)
    assert [k for k, _ in got] == [b"rss:0", b"rss:1", b"rss:2"]
    assert [msgspec.json.decode(v, type=Post) for _, v in got] == posts
    (dead,) = await read_all(bootstrap, dlq, 1)
    assert msgspec.json.decode(dead[1], type=DeadLetter).reason == "bad_item: x"


@pytest.mark.broker
async def test_feed_to_broker(bootstrap: str, http_server, make_runner) -> None:
    topic = f"posts-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, topic, "dlq")
    url = http_server.route("/gbk.xml", Reply(body=(FIXTURES / "gbk_feed.xml").read_bytes()))
    async with KafkaSink(bootstrap, topic=topic) as sink:
        assert await make_runner(RssSource("gov", url), sink=sink).poll_once() == 3
    got = await read_all(bootstrap, topic, 3)
    titles = [msgspec.json.decode(v, type=Post).title for _, v in got]
    assert titles[0] == "雁江区某小区发生火灾 无人员伤亡" and len(titles) == 3


@pytest.mark.broker
async def test_replay_cli_into_the_broker(bootstrap: str, tmp_path) -> None:
    import asyncio
    import sys
    from pathlib import Path

    topic = f"posts-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, topic, "dlq")
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "sources", "replay", str(FIXTURES / "history.csv"), "--bootstrap", bootstrap,
        "--topic", topic, "--checkpoint", f"sqlite:///{tmp_path / 'cp.db'}",
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert (
        out.decode().strip() == "file-history: 3 posts sent, 2 bad records to the dead-letter log"
    )
    got = await read_all(bootstrap, topic, 3)
    posts = [msgspec.json.decode(v, type=Post) for _, v in got]
    assert [p.id for p in posts] == ["file:c1", "file:c2", "file:c5"]
    assert posts[0].published_at.isoformat() == "2026-04-18T08:00:00+08:00"


@pytest.fixture(scope="module")
def pg_store() -> Iterator[CheckpointStore]:
    import sqlalchemy as sa

    with postgres_schema("conn") as url:
        scoped = sa.create_engine(url)
        yield CheckpointStore(scoped)
        scoped.dispose()


@pytest.mark.postgres
def test_checkpoint_store_on_postgresql(pg_store: CheckpointStore) -> None:
    now = datetime(2026, 4, 19, tzinfo=UTC)
    assert pg_store.load("w") == {}
    pg_store.commit("w", {"cursor": 28, "etag": None}, ["weibo:1", "weibo:2"], now)
    pg_store.commit("w", {"cursor": None}, ["weibo:2", "weibo:3"], now + timedelta(days=40))
    assert pg_store.load("w") == {"cursor": None}
    assert pg_store.seen("w", ["weibo:1", "weibo:3", "weibo:9"]) == {"weibo:1", "weibo:3"}
    assert pg_store.seen("other", ["weibo:1"]) == set()
    assert pg_store.prune(now + timedelta(days=10)) == 1
    assert pg_store.seen("w", ["weibo:1", "weibo:2"]) == {"weibo:2"}
    many = [f"rss:{i}" for i in range(1200)]
    pg_store.commit("big", {}, many, now)
    assert len(pg_store.seen("big", many)) == 1200
