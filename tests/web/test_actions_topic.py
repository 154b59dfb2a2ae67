"""An answer posted to the API reaches the real `actions` topic, as `monitor act` sends it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from monitor.runtime.actions import topic_sender
from monitor.runtime.producer import bootstrap, ensure_topics
from monitor.topics import Topic, topic
from monitor.web.auth import Users
from monitor.web.status import create_app
from streams.records import action_request_decoder
from tests.web.conftest import World, api_client, auth

pytestmark = pytest.mark.broker


async def test_answer_reaches_the_actions_topic(broker: Any, world: World, users: Users) -> None:
    prefix = f"a{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.url, prefix, 2)
    send = topic_sender(broker.url, topic(Topic.ACTIONS, prefix))
    app = create_app(world.store, CollectorRegistry(), users=users, send=send)
    async with api_client(app) as c:
        body = {"id": "ack-topic", "kind": "acknowledge"}
        resp = await c.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                            headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 200, resp.text
    consumer = AIOKafkaConsumer(
        topic(Topic.ACTIONS, prefix), bootstrap_servers=bootstrap(broker.url),
        auto_offset_reset="earliest", group_id=f"check-{prefix}",
    )  # fmt: skip
    await consumer.start()
    try:
        got = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    [record] = [r for rs in got.values() for r in rs]
    req = action_request_decoder.decode(record.value)
    assert record.key == world.blast.key.encode()
    assert (req.action.id, req.action.kind, req.action.by) == (
        "ack-topic",
        "acknowledge",
        "值班员甲",
    )
