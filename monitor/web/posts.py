"""An incident's posts: who said what, when, how widely; their gravest facts; their heat.

Membership comes from the incident's own events (monitor/web/cache.py `ReadModel`), so it needs
no table of its own and follows merges and splits:

- each `assigned` event names a post (post id, source, url, the post's facts);
- a `split` event moves its `post_ids` out; an `opened` event with `split_from` brings them in
  (their `assigned` events stay with the incident they came from);
- a merge brings in the absorbed incidents' posts (`merged_from` in the state).

What the detail page shows of all of them (count, gravest facts, heat) is a `Tally`, which
folds posts in one at a time and is bounded by the incident's time span, not its posts, so
the web process can keep one per incident however many posts arrive. The posts' text, author
and counts come from the archive, where every accepted post is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from monitor.domain.model import Post
from monitor.store import Store

_post = msgspec.json.Decoder(Post)
FACT_FIELDS = ("deaths", "missing", "injured", "trapped", "loss_yuan")
MAX_PAGE = 100
# the heat chart's buckets are 10 minutes, an hour or 6 hours, all aligned to EPOCH: counts
# per 10-minute slot add up exactly to any of them
SLOT = timedelta(minutes=10)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Ref:
    """One member post as the events name it."""

    post_id: str
    at: str  # event time, ISO
    origin: str  # the incident whose `assigned` event named it
    data: dict[str, Any]

    @classmethod
    def of(cls, event: dict[str, Any]) -> Ref:
        """From an `assigned` event."""
        data = event.get("data") or {}
        return cls(data["post_id"], event["at"], event["incident_id"], data)


@dataclass
class Tally:
    """Count, gravest facts and heat of a set of posts, added one at a time."""

    count: int = 0
    facts: dict[str, int] = field(default_factory=dict)
    slots: dict[int, int] = field(default_factory=dict)  # posts per SLOT since EPOCH
    first: datetime | None = None
    last: datetime | None = None

    def add(self, at: str, data: dict[str, Any]) -> None:
        self.count += 1
        # the gravest figure any post gives for each fact (a later post usually corrects a
        # toll upwards; a lower figure is not taken as a correction downwards)
        for name, value in (data.get("casualties") or {}).items():
            if name in FACT_FIELDS and isinstance(value, int):
                self.facts[name] = max(self.facts.get(name, 0), value)
        t = datetime.fromisoformat(at)
        slot = (t - EPOCH) // SLOT
        self.slots[slot] = self.slots.get(slot, 0) + 1
        self.first = t if self.first is None else min(self.first, t)
        self.last = t if self.last is None else max(self.last, t)

    def copy(self) -> Tally:
        return Tally(self.count, dict(self.facts), dict(self.slots), self.first, self.last)

    def heat(self) -> dict[str, Any]:
        """Posts per time bucket, for the chart: 10 minutes over a few hours, an hour over
        days."""
        if self.first is None or self.last is None:
            return {"bucket_s": 600, "series": []}
        span = self.last - self.first
        step = (
            SLOT if span <= timedelta(hours=6)
            else timedelta(hours=1) if span <= timedelta(days=3) else timedelta(hours=6)
        )  # fmt: skip
        per = step // SLOT
        start = (self.first - EPOCH) // step
        counts: dict[int, int] = {}
        for slot, n in self.slots.items():
            i = slot // per - start
            counts[i] = counts.get(i, 0) + n
        series = [
            {"t": (EPOCH + (start + i) * step).isoformat(), "posts": counts.get(i, 0)}
            for i in range(max(counts) + 1)
        ]
        return {"bucket_s": int(step.total_seconds()), "series": series}


def tally(refs: Iterable[Ref]) -> Tally:
    out = Tally()
    for r in refs:
        out.add(r.at, r.data)
    return out


def page_size(size: int) -> int:
    return max(1, min(size, MAX_PAGE))


def newest(refs: Iterable[Ref], number: int, size: int) -> list[Ref]:
    """Page `number` (from 1) of `refs`, newest first."""
    ordered = sorted(refs, key=lambda r: (datetime.fromisoformat(r.at), r.post_id), reverse=True)
    return ordered[(number - 1) * size : number * size]


def page(store: Store, total: int, chosen: list[Ref], number: int, size: int) -> dict[str, Any]:
    bodies = store.archived_bodies("post", [r.post_id for r in chosen])
    return {
        "total": total, "page": number, "size": size,
        "posts": [_post_json(r, bodies.get(r.post_id)) for r in chosen],
    }  # fmt: skip


def _post_json(ref: Ref, body: bytes | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ref.post_id, "at": ref.at, "source": ref.data.get("source"),
        "url": ref.data.get("url"), "facts": ref.data.get("casualties") or {},
    }  # fmt: skip
    if body is None:
        out["text"] = None  # an archive that lost it says so rather than inventing one
        return out
    p = _post.decode(body)
    return out | {
        "source": p.source, "url": p.url, "title": p.title, "text": p.text,
        "author": p.author, "author_followers": p.author_followers,
        "author_verified": p.author_verified, "official": p.official,
        "published_at": p.published_at.isoformat() if p.published_at else None,
        "reposts": p.reposts, "comments": p.comments, "likes": p.likes,
        "repost_of": p.repost_of,
    }  # fmt: skip
