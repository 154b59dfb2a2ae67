"""Event time has a bound (DESIGN.md §2): no post, tick or action moves a clock past the
trusted time, so no clock breaches before its deadline. Properties over generated sequences of
posts (future-dated, out of order, repeated) and ticks, driven through the incident stage the
worker runs (streams/stages.py), live on a fake wall clock and as a replay of the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import incident_params, load_config
from monitor.domain.incidents import incident_key
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.metrics import Metrics
from monitor.service import Classifier
from monitor.testing import FakeClock
from monitor.topics import Topic
from streams.buckets import Buckets
from streams.processor import Processor, routing_router
from streams.records import Classified, ClassifiedBatch, Tick, encoder
from streams.stages import Faults, Inbound, IncidentStage

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
SKEW = timedelta(seconds=IncidentParams().future_skew_s)
STORIES = (
    "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。",  # II: 5 h
    "安岳县石羊镇中心小学学生午餐后出现呕吐腹泻，疑似食物中毒，20余名学生送医。",
    "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。",
    "资阳市安岳县岳阳镇一煤矿发生透水事故，15人被困井下，救援正在进行。",  # II
)
FIRING = {"deadline_breached", "deadline_warning", "unacknowledged"}


@cache
def world() -> tuple[Classifier, IncidentParams, str]:
    cfg = load_config()
    return Classifier.from_config(cfg), incident_params(cfg), cfg.jurisdiction.code


def new_stage(clock: FakeClock, live: bool) -> IncidentStage:
    classifier, params, home = world()
    processor = Processor(params, home, routing_router(classifier.routing))
    metrics = Metrics.create()
    return IncidentStage(processor, Buckets({}), Faults(metrics, clock), metrics, clock, live)


# --- generated inputs ------------------------------------------------------------------------

future = st.one_of(
    st.integers(-3 * 86400, 0),  # honest: up to three days late
    st.integers(1, int(SKEW.total_seconds())),  # within the skew
    st.integers(3600, 800 * 86400),  # a year ahead, as in the issue
)


@dataclass(frozen=True)
class PostStep:
    story: int
    published: int  # seconds from the wall clock when it arrives
    observed: int | None
    again: bool  # send a post seen before (redelivery) instead of a new one


@dataclass(frozen=True)
class TickStep:
    advance: int  # seconds the wall clock moves first
    ahead: int  # the tick's watermark relative to the wall clock (a forged tick may lie)


steps = st.lists(
    st.one_of(
        st.builds(PostStep, st.integers(0, len(STORIES) - 1), future,
                  st.none() | future, st.booleans()),
        st.builds(TickStep, st.integers(0, 7 * 3600), st.one_of(st.just(0), future)),
    ),
    min_size=1,
    max_size=25,
)


def fired(records: list[Any]) -> list[dict[str, Any]]:
    out = []
    for r in records:
        if r.topic == Topic.EVENTS:
            e = msgspec.json.decode(r.value)
            if e["kind"] in FIRING:
                out.append(e)
    return out


def due(e: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(e["data"]["due"])


@dataclass
class Run:
    """One generated sequence, live; what was accepted when, for the replay."""

    accepted: list[tuple[datetime, bytes]]
    honest: bool
    events: dict[str, dict[str, Any]]


def run_live(seq: list[PostStep | TickStep]) -> Run:
    clock = FakeClock(T0)
    stage = new_stage(clock, live=True)
    classifier, params, home = world()
    sent: list[Post] = []
    run = Run(accepted=[], honest=True, events={})
    for n, step in enumerate(seq):
        now = clock()
        if isinstance(step, TickStep):
            clock.advance(seconds=step.advance)
            now = clock()
            run.honest &= step.ahead <= 0
            value = encoder.encode(Tick(watermark=now + timedelta(seconds=step.ahead)))
        else:
            if step.again and sent:
                post = sent[step.story % len(sent)]
            else:
                pub = now + timedelta(seconds=step.published)
                obs = None if step.observed is None else now + timedelta(seconds=step.observed)
                post = Post(id=f"p{n}", text=STORIES[step.story], source="weibo",
                            published_at=pub, observed_at=obs)  # fmt: skip
                sent.append(post)
            run.honest &= all(t is None or t <= now for t in (post.published_at, post.observed_at))
            cls = classifier.classify(post)
            item = encoder.encode(
                Classified(incident_key(cls, home, params), post, cls, accepted_at=now)
            )
            run.accepted.append((now, item))
            value = encoder.encode(
                ClassifiedBatch(incident_key(cls, home, params), (msgspec.Raw(item),), taken_at=now)
            )
        for e in fired(stage.apply([Inbound(value)])):
            # the property: nothing fires before the trusted time
            assert due(e) <= now + SKEW, (e["id"], due(e), now)
            if run.honest:
                assert due(e) <= now, (e["id"], due(e), now)
        for key in stage.buckets.held():
            bucket = stage.buckets.get(key)
            assert bucket is not None and bucket.watermark is not None
            assert bucket.watermark <= now + SKEW
    return run


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_live_no_clock_fires_before_the_wall_clock_allows(seq: list[PostStep | TickStep]) -> None:
    run_live(seq)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_a_replay_is_bounded_by_the_times_records_were_accepted(
    seq: list[PostStep | TickStep],
) -> None:
    """The replay has no wall clock: it runs on the inputs' own times, each post bounded by
    when it was accepted; so a clock fires no later in the replay's timeline than that."""
    run = run_live(seq)
    stage = new_stage(FakeClock(T0), live=False)
    latest: datetime | None = None
    for accepted, item in run.accepted:
        latest = accepted if latest is None else max(latest, accepted)
        for e in fired(stage.apply([Inbound(item)])):
            assert due(e) <= latest + SKEW, (e["id"], due(e), latest)


def test_a_post_dated_next_year_opens_its_incident_now_and_breaches_nothing() -> None:
    """The issue's case: one post dated 2027 moved its bucket's watermark forward for good, and
    every clock of the family breached within seconds."""
    clock = FakeClock(T0)
    stage = new_stage(clock, live=True)
    classifier, params, home = world()
    blast = Post(id="b1", text=STORIES[0], source="weibo", published_at=T0, observed_at=T0)
    mine = Post(id="m1", text=STORIES[3], source="weibo",
                published_at=datetime(2027, 6, 1, tzinfo=UTC))  # fmt: skip
    records = []
    for p in (blast, mine):
        cls = classifier.classify(p)
        rec = Classified(incident_key(cls, home, params), p, cls, accepted_at=clock())
        records += stage.apply([Inbound(encoder.encode(rec))])
        clock.advance(seconds=1)
    records += stage.apply([Inbound(encoder.encode(Tick(watermark=clock())))])
    events = [msgspec.json.decode(r.value) for r in records if r.topic == Topic.EVENTS]
    assert not [e for e in events if e["kind"] in FIRING]
    [assigned] = [e for e in events if e["kind"] == "assigned" and e["data"]["post_id"] == "m1"]
    assert assigned["data"]["claimed"] == {"published_at": "2027-06-01T00:00:00+00:00"}
    assert datetime.fromisoformat(assigned["at"]) == T0 + timedelta(seconds=1)
    assert stage.metrics.registry.get_sample_value("monitor_post_time_clamped_total") == 1
    for key in stage.buckets.held():
        bucket = stage.buckets.get(key)
        assert bucket is not None and bucket.watermark is not None
        assert bucket.watermark <= clock() + SKEW
