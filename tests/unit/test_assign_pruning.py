"""The bound that spares comparing a post with most of a flood's incidents never changes a
decision: assign() with it and with every candidate compared exactly agree, post by post, on
a flood of 40 incidents in one key (benchmarks/flood_posts.py), also at thresholds where the
bound is at its loosest (similarity under the town bonus) and where the join threshold with a
town penalty lies above the near-duplicate one."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import msgspec
import pytest

from benchmarks.flood_posts import flood_posts, flood_stories
from monitor.config import incident_params, load_config
from monitor.domain import incidents
from monitor.domain.model import Classification, Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from monitor.service import Classifier

AT = datetime(2026, 5, 1, 8, tzinfo=UTC)


@cache
def flood() -> tuple[list[tuple[Post, Classification]], str, IncidentParams]:
    cfg = load_config()
    classifier = Classifier.from_config(cfg)
    posts = flood_posts(flood_stories(40), 900, AT, seed=5)
    return [(p, classifier.classify(p)) for p in posts], cfg.jurisdiction.code, incident_params(cfg)


def exact(mine: frozenset[str], state: IncidentState, floor: float = 0.0) -> float:
    """The best overlap with every kept text, whatever the floor."""
    sets = [s for s in (incidents.bigrams(t) for t in state.texts) if s]
    return max((incidents.overlap(mine, s) for s in sets), default=0.0)


@pytest.mark.parametrize(
    ("similarity", "near_duplicate"), [(0.25, 0.75), (0.1, 0.75), (0.7, 0.75), (0.4, 0.5)]
)
def test_pruned_and_exact_assignment_agree(
    monkeypatch: pytest.MonkeyPatch, similarity: float, near_duplicate: float
) -> None:
    posts, home, params = flood()
    policy = msgspec.structs.replace(
        params.assign, similarity=similarity, near_duplicate=near_duplicate
    )
    params = msgspec.structs.replace(params, assign=policy)

    states: dict[str, IncidentState] = {}
    joins = 0
    for post, cls in posts:
        if not cls.is_incident:
            continue  # the pipeline ignores it before assignment (the model leaves a few out)
        candidates = list(states.values())
        pruned = incidents.assign(candidates, post, cls, params, home)
        with monkeypatch.context() as m:
            m.setattr(incidents, "_similarity", exact)
            assert incidents.assign(candidates, post, cls, params, home) == pruned, post.text
        if pruned.action == "open":
            out = incidents.open_incident(post, cls, params, pruned)
        else:
            joins += 1
            out = incidents.add_post(states[str(pruned.incident_id)], post, cls, params,
                                     decision=pruned)  # fmt: skip
        states[out.state.id] = out.state
    assert joins > len(posts) // 2  # the flood's posts mostly join: the comparison was real
    if (similarity, near_duplicate) == (0.25, 0.75):
        # every story its incident at the config's thresholds; a story whose voices the
        # learned model files under two category families makes one per family
        assert 40 <= len(states) <= 80
