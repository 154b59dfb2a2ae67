from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from monitor.runtime.broker import BundledBroker, accepts_connections

pytestmark = pytest.mark.broker


async def test_produce_and_consume_round_trip(broker: BundledBroker, prefix: str) -> None:
    topic = f"{prefix}.roundtrip"
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, f"m{i}".encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(10):
            while len(got) < 20:
                batch = await consumer.getmany(timeout_ms=500)
                got.extend(m.value for msgs in batch.values() for m in msgs if m.value)
    finally:
        await consumer.stop()
    # auto-created topics have several partitions; order holds only within one
    assert sorted(got) == sorted(f"m{i}".encode() for i in range(20))


def test_stop_releases_port() -> None:
    b = BundledBroker().start()
    port = b.port
    assert accepts_connections("127.0.0.1", port)
    b.stop()
    assert not accepts_connections("127.0.0.1", port)
    assert b.pid is None
