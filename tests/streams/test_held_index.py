"""The processor's index of held post ids (the redelivery check) answers as asking every
incident of the bucket does, over generated sequences of new and redelivered posts and ticks,
with caps small enough that ids leave incidents (members full, recent ids trimmed) and
incidents leave buckets (closed and past the window)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import incident_params, load_config
from monitor.domain.incidents import incident_key
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.service import Classifier
from streams.processor import Bucket, Processor, routing_router

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
STORIES = (
    "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。",
    "资阳市雁江区宝台镇化工厂爆炸事故最新：死亡人数升至14人，伤者已送医救治。",
    "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。",
    "安岳县岳阳镇一家具厂突发火灾，现场浓烟滚滚，消防正在全力扑救，已造成多人被困",
)
_bucket = msgspec.json.Decoder(Bucket)


@cache
def world() -> tuple[Classifier, IncidentParams, str]:
    cfg = load_config()
    params = incident_params(cfg)
    # tiny caps: ids leave an incident's members and recent ids within a few posts
    small = msgspec.structs.replace(params.assign, max_members=2, window_s=6 * 3600)
    return (
        Classifier.from_config(cfg),
        msgspec.structs.replace(params, assign=small),
        cfg.jurisdiction.code,
    )


@dataclass(frozen=True)
class PostStep:
    story: int
    minutes: int  # after the previous step
    again: int | None  # redeliver the n-th post sent (modulo) instead of a new one
    late: int = 0  # minutes the post's time is before the step's
    repost: int | None = None  # a repost of the n-th post sent (modulo)


@dataclass(frozen=True)
class TickStep:
    minutes: int


@dataclass(frozen=True)
class Reload:
    """The bucket read back from its encoding (a restart): a new tuple, so the index is
    rebuilt rather than carried."""


NEVER_LATE = st.just(0)
NO_REPOST = st.none()


def step_lists(
    late: st.SearchStrategy[int] = NEVER_LATE,
    repost: st.SearchStrategy[int | None] = NO_REPOST,
) -> st.SearchStrategy[list[PostStep | TickStep | Reload]]:
    return st.lists(
        st.one_of(
            st.builds(
                PostStep,
                st.integers(0, len(STORIES) - 1),
                st.integers(0, 240),
                st.none() | st.integers(0, 50),
                late,
                repost,
            ),
            st.builds(TickStep, st.integers(0, 48 * 60)),
            st.just(Reload()),
        ),
        min_size=1,
        max_size=60,
    )


steps = step_lists()


def exhaustive(bucket: Bucket, post_id: str) -> bool:
    return any(s.holds(post_id) for s in bucket.incidents)


def drive(
    seq: Sequence[PostStep | TickStep | Reload],
    check: Callable[[Processor, Bucket, Post], None] = lambda p, b, post: None,
) -> None:
    """Run the steps through one processor; `check` sees each post before it goes in."""
    classifier, params, home = world()
    processor = Processor(params, home, routing_router(classifier.routing))
    buckets: dict[str, Bucket] = {}
    sent: list[Post] = []
    now = T0
    for n, step in enumerate(seq):
        if isinstance(step, Reload):
            buckets = {k: _bucket.decode(msgspec.json.encode(b)) for k, b in buckets.items()}
            continue
        now += timedelta(minutes=step.minutes)
        if isinstance(step, TickStep):
            for key, b in buckets.items():
                buckets[key] = processor.on_tick(b, now).bucket
            continue
        if step.again is not None and sent:
            post = sent[step.again % len(sent)]
        else:
            repost_of = (
                None if step.repost is None or not sent else sent[step.repost % len(sent)].id
            )
            post = Post(id=f"p{n}", text=STORIES[step.story], source="weibo",
                        published_at=now - timedelta(minutes=step.late), repost_of=repost_of)  # fmt: skip
            sent.append(post)
        cls = classifier.classify(post)
        key = incident_key(cls, home, params)
        bucket = buckets.get(key) or Bucket(key=key, partition=0)
        check(processor, bucket, post)
        buckets[key] = processor.on_post(bucket, post, cls).bucket


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_index_agrees_with_asking_every_incident(seq: list[PostStep | TickStep | Reload]) -> None:
    def check(processor: Processor, bucket: Bucket, post: Post) -> None:
        for probe in {post.id, *(f"p{n}" for n in range(len(seq))), "never-sent"}:
            assert processor.holds(bucket, probe) == exhaustive(bucket, probe), probe

    drive(seq, check)


def test_a_redelivered_post_is_dropped_and_a_trimmed_one_is_not() -> None:
    """The cases the property relies on, made to happen: held, then no longer held once the
    incident's caps pushed the id out (so the index must not answer from a stale id)."""
    classifier, params, home = world()
    processor = Processor(params, home, routing_router(classifier.routing))
    posts = [Post(id=f"q{i}", text=STORIES[0], source="weibo",
                  published_at=T0 + timedelta(minutes=i)) for i in range(80)]  # fmt: skip
    cls = classifier.classify(posts[0])
    bucket = Bucket(key=incident_key(cls, home, params), partition=0)
    for p in posts:
        bucket = processor.on_post(bucket, p, cls).bucket
    assert processor.holds(bucket, "q79") and exhaustive(bucket, "q79")
    # members keep the first two, recent ids the newest 64: q5 has left the incident
    assert not exhaustive(bucket, "q5")
    assert not processor.holds(bucket, "q5")
    again = processor.on_post(bucket, posts[79], cls)
    assert again.events == [] and again.bucket is bucket
