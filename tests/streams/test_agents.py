"""The agents under Faust's `agent.test_context()` (faust docs/userguide/testing.rst): each
agent runs in this process on an in-memory channel, with the records it sends kept by a
MemorySender and a FakeClock for its clock. No broker."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from monitor.config import load_config
from monitor.domain.state import Action
from monitor.testing import FakeClock, MemorySender, metric
from monitor.topics import DeadLetter, Topic
from streams.bootstrap import Pipeline, bootstrap
from streams.records import ActionRequest, Tick, encoder
from streams.settings import StreamSettings
from streams.stages import CHANGELOG
from tests.integration.helpers import BLAST, FIRE, T0, post


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(minutes=1))


@pytest.fixture
def sent() -> MemorySender:
    return MemorySender()


@pytest.fixture
def pipe(sent: MemorySender, clock: FakeClock) -> Pipeline:
    settings = StreamSettings(broker="kafka://127.0.0.1:9", prefix="ctx.", batch_within=0.01)
    return bootstrap(settings, load_config(), send=sent, clock=clock)


async def _classify(pipe: Pipeline, *posts: object) -> None:
    async with pipe.agents.classify.test_context() as agent:
        for p in posts:
            await agent.put(encoder.encode(p), key=b"k")


async def _incidents(pipe: Pipeline, values: list[bytes], partition: int = 0) -> None:
    async with pipe.agents.incidents.test_context() as agent:
        for v in values:
            await agent.put(v, key=b"k", partition=partition)


async def test_a_post_goes_from_classify_to_an_incident(
    pipe: Pipeline, sent: MemorySender, clock: FakeClock
) -> None:
    await _classify(pipe, post("b1", BLAST), post("x", "今天天气不错。"))
    [batch] = sent.decoded(Topic.CLASSIFIED)
    assert batch["type"] == "posts" and len(batch["items"]) == 1
    assert batch["taken_at"] == clock().isoformat().replace("+00:00", "Z")
    assert metric(pipe.metrics.registry, "monitor_posts_ignored_total") == 1

    clock.advance(seconds=2)
    await _incidents(pipe, sent.values(Topic.CLASSIFIED))
    kinds = [e["kind"] for e in sent.decoded(Topic.EVENTS)]
    assert kinds[:2] == ["opened", "assigned"]
    [state] = [msgspec.json.decode(v) for v in sent.values(Topic.STATE)]
    assert state["members"][0][0] == "b1"
    # the Table holds the incident and its key's head, both sent to the changelog
    writes = [r.key for r in sent.records if r.topic == CHANGELOG]
    assert writes == [b"i:" + state["id"].encode(), b"b:" + state["key"].encode()]
    assert any(n["step"] == "opened" for n in sent.decoded(Topic.NOTIFICATIONS))
    # processing latency is measured from when classify took the post: 2 s on the fake clock
    assert metric(pipe.metrics.registry, "monitor_post_to_event_seconds_sum") == 2.0
    assert metric(pipe.metrics.registry, "monitor_post_to_event_seconds_count") == 1


async def test_bad_records_are_dead_lettered_and_the_agents_go_on(
    pipe: Pipeline, sent: MemorySender
) -> None:
    await _classify(pipe, post("f1", FIRE))
    good = sent.values(Topic.CLASSIFIED)
    ghost = Action(id="a1", incident_id="nope", kind="acknowledge", by="值班员", at=T0)
    req = ActionRequest(key="5120:safety", action=ghost, recorded_at=T0)
    async with pipe.agents.route_actions.test_context() as agent:
        await agent.put(b"[]", key=b"k")
        await agent.put(encoder.encode(req), key=b"k")
    routed = sent.values(Topic.CLASSIFIED)[len(good) :]
    await _incidents(pipe, [b"{not json", *routed, *good])
    letters = [msgspec.json.decode(v, type=DeadLetter) for v in sent.values(Topic.DLQ)]
    reasons = [d.reason.split(":", 1)[0] for d in letters]
    assert reasons == ["bad action", "bad input", "action refused"]
    assert [d.source for d in letters] == ["actions", "posts.classified", "actions"]
    assert any(e["kind"] == "opened" for e in sent.decoded(Topic.EVENTS)), "the good post"


async def test_a_live_tick_fires_the_deadline_and_never_runs_ahead_of_the_clock(
    sent: MemorySender, clock: FakeClock
) -> None:
    settings = StreamSettings(broker="kafka://127.0.0.1:9", live=True, batch_within=0.01)
    pipe = bootstrap(settings, load_config(), send=sent, clock=clock)
    await _classify(pipe, post("b1", BLAST))
    await _incidents(pipe, sent.values(Topic.CLASSIFIED))
    # a tick from far in the future moves the watermark only to the clock plus the skew
    await _incidents(pipe, [encoder.encode(Tick(watermark=T0 + timedelta(days=400)))])
    wm = metric(pipe.metrics.registry, "monitor_watermark_seconds")
    assert wm == (clock() + timedelta(minutes=5)).timestamp()
    assert not [e for e in sent.decoded(Topic.EVENTS) if e["kind"] == "deadline_breached"]
    clock.advance(hours=5)
    await _incidents(pipe, [encoder.encode(Tick(watermark=clock()))])
    breached = [e for e in sent.decoded(Topic.EVENTS) if e["kind"] == "deadline_breached"]
    assert [e["data"]["rule"] for e in breached] == ["release"]
