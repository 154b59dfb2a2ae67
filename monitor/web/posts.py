"""An incident's posts: who said what, when, how widely; their gravest facts; their heat.

Membership comes from the incident's own events (monitor/web/cache.py `ReadModel.members`), so
it needs no table of its own and follows merges and splits:

- each `assigned` event names a post (post id, source, url, the post's facts);
- a `split` event moves its `post_ids` out; an `opened` event with `split_from` brings them in
  (their `assigned` events stay with the incident they came from);
- a merge brings in the absorbed incidents' posts (`merged_from` in the state).

The posts' text, author and counts come from the archive, where every accepted post is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import msgspec

from monitor.domain.model import Post
from monitor.store import Store
from monitor.web.cache import Ref

_post = msgspec.json.Decoder(Post)
FACT_FIELDS = ("deaths", "missing", "injured", "trapped", "loss_yuan")
MAX_PAGE = 100


def page(store: Store, refs: list[Ref], number: int, size: int) -> dict[str, Any]:
    """Newest first; `number` from 1."""
    size = max(1, min(size, MAX_PAGE))
    newest = sorted(refs, key=lambda r: (r.at, r.post_id), reverse=True)
    chosen = newest[(number - 1) * size : number * size]
    bodies = store.archived_bodies("post", [r.post_id for r in chosen])
    return {
        "total": len(refs), "page": number, "size": size,
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


def facts(refs: Iterable[Ref]) -> dict[str, int]:
    """The gravest figure any post gives for each fact (a later post usually corrects a toll
    upwards; a lower figure is not taken as a correction downwards)."""
    out: dict[str, int] = {}
    for r in refs:
        for name, value in (r.data.get("casualties") or {}).items():
            if name in FACT_FIELDS and isinstance(value, int):
                out[name] = max(out.get(name, 0), value)
    return out


def heat(refs: Iterable[Ref]) -> dict[str, Any]:
    """Posts per time bucket, for the chart: 10 minutes over a few hours, an hour over days."""
    times = sorted(datetime.fromisoformat(r.at) for r in refs)
    if not times:
        return {"bucket_s": 600, "series": []}
    span = times[-1] - times[0]
    step = (
        timedelta(minutes=10) if span <= timedelta(hours=6)
        else timedelta(hours=1) if span <= timedelta(days=3) else timedelta(hours=6)
    )  # fmt: skip
    start = _floor(times[0], step)
    counts: dict[int, int] = {}
    for t in times:
        i = int((t - start) / step)
        counts[i] = counts.get(i, 0) + 1
    series = [
        {"t": (start + i * step).isoformat(), "posts": counts.get(i, 0)}
        for i in range(max(counts) + 1)
    ]
    return {"bucket_s": int(step.total_seconds()), "series": series}


def _floor(t: datetime, step: timedelta) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=t.tzinfo)
    return epoch + ((t - epoch) // step) * step
