"""The processor's index of a bucket's incidents (by the assignment window, by member post id)
hands `assign` candidates that decide every post as all of the bucket's incidents do: over
generated posts, reposts, late posts, ticks and reloads, with caps small enough that members
are trimmed and incidents leave the bucket."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.domain import incidents
from monitor.domain.incidents import Decision, incident_key
from monitor.domain.model import Classification, Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from streams import processor as processor_module
from streams.processor import Bucket, Processor, routing_router
from tests.streams.test_held_index import (
    STORIES,
    T0,
    PostStep,
    Reload,
    TickStep,
    drive,
    step_lists,
    world,
)

steps = step_lists(st.sampled_from([0, 0, 0, 30, 400, 900]), st.none() | st.integers(0, 50))


class Checked:
    """incidents.assign, checking each decision with the index against all candidates; and
    where the index places a joined incident, against the first of its id."""

    def __init__(self) -> None:
        self.plain = incidents.assign
        self.plain_position = processor_module._Held.position
        self.indexed = 0
        self.positioned = 0

    def position(self, held: processor_module._Held, incident_id: str | None) -> int | None:
        got = self.plain_position(held, incident_id)
        if got is not None:
            assert got == processor_module._index(list(held.incidents), incident_id)
            self.positioned += 1
        return got

    def __call__(
        self,
        candidates: Sequence[IncidentState],
        post: Post,
        cls: Classification,
        params: IncidentParams,
        home: str = "",
        **kw: Any,
    ) -> Decision:
        got = self.plain(candidates, post, cls, params, home, **kw)
        assert got == self.plain(candidates, post, cls, params, home), post.id
        self.indexed += kw.get("near") is not None
        return got


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Checked]:
    check = Checked()
    monkeypatch.setattr(processor_module.incidents, "assign", check)

    def position(held: processor_module._Held, incident_id: str | None) -> int | None:
        return check.position(held, incident_id)  # a function, so the incidents' index binds

    monkeypatch.setattr(processor_module._Held, "position", position)
    monkeypatch.setattr(processor_module, "SMALL_BUCKET", 0)  # every bucket indexed
    yield check


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps)
# an incident opened after the index was built is a candidate of the next post
@example([PostStep(0, 0, None), PostStep(2, 1, None), PostStep(2, 1, None)])
# a repost of a post that joined after the index was built
@example([PostStep(0, 0, None), PostStep(2, 1, None, repost=0), PostStep(3, 1, None, repost=1)])
# a tick past the window, posts up to 15 h late, reposts
@example([PostStep(0, 0, None), PostStep(2, 1, None), TickStep(2000), PostStep(3, 1, None),
          PostStep(2, 1, None, repost=0), PostStep(0, 5, None, late=900),
          PostStep(3, 1, None), PostStep(1, 1, None, late=400, repost=1)])  # fmt: skip
def test_the_index_decides_as_all_incidents_do(
    checked: Checked, seq: list[PostStep | TickStep | Reload]
) -> None:
    drive(seq)


def test_the_index_is_used_and_a_repost_finds_its_holder_out_of_the_window(
    checked: Checked,
) -> None:
    """A repost of an incident's first post, days later: outside the window of every text
    candidate, found by the post id alone."""
    classifier, params, home = world()
    processor = Processor(params, home, routing_router(classifier.routing))
    first = Post(id="a", text=STORIES[0], source="weibo", published_at=T0)
    cls = classifier.classify(first)
    bucket = Bucket(key=incident_key(cls, home, params), partition=0)
    bucket = processor.on_post(bucket, first, cls).bucket
    other = Post(id="b", text=STORIES[1], source="weibo", published_at=T0 + timedelta(days=3))
    bucket = processor.on_post(bucket, other, cls).bucket
    holder = [s.id for s in bucket.incidents if s.holds("a")]
    assert len(bucket.incidents) == 2 and len(holder) == 1
    repost = Post(id="c", text="转发", source="weibo", published_at=T0 + timedelta(days=3),
                  repost_of="a")  # fmt: skip
    out = processor.on_post(bucket, repost, cls)
    assert [s.id for s in out.bucket.incidents if s.holds("c")] == holder
    assert checked.indexed == 2 and checked.positioned == 1


def test_the_index_starts_over_after_ids_were_not_unique(checked: Checked) -> None:
    """While a bucket's ids are not unique the index is not kept up; once they are again, the
    incidents added meanwhile are candidates."""
    classifier, params, home = world()
    processor = Processor(params, home, routing_router(classifier.routing))
    posts = [Post(id=f"u{n}", text=STORIES[story], source="weibo",
                  published_at=T0 + timedelta(minutes=n)) for n, story in enumerate((0, 2, 3))]  # fmt: skip
    cls = classifier.classify(posts[0])
    bucket = Bucket(key=incident_key(cls, home, params), partition=0)
    for p in posts:
        bucket = processor.on_post(bucket, p, classifier.classify(p)).bucket
    a, b, c = bucket.incidents
    held = processor_module._Held((a, b))
    assert {s.id for s in held.candidates(posts[2], timedelta(hours=6))[0] or ()} == {a.id, b.id}
    held.follow((a, b, a), None)
    held.follow((a, b, c), None)
    near, _ = held.candidates(posts[2], timedelta(hours=6))
    assert near is not None and {s.id for s in near} == {a.id, b.id, c.id}
