"""An incident's posts, read from the store: who said what, when, how widely.

Membership comes from the incident's own events, so it needs no table of its own and follows
merges and splits:

- each `assigned` event names a post (post id, source, url, the post's facts);
- a `split` event moves its `post_ids` out; an `opened` event with `split_from` brings them in
  (their `assigned` events stay with the incident they came from);
- a merge brings in the absorbed incidents' posts (`merged_from` in the state).

The posts' text, author and counts come from the archive, where every accepted post is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from monitor.domain.model import Post
from monitor.store import Store

_post = msgspec.json.Decoder(Post)
FACT_FIELDS = ("deaths", "missing", "injured", "trapped", "loss_yuan")
MAX_PAGE = 100


@dataclass(frozen=True)
class Ref:
    """One member post as the events name it."""

    post_id: str
    at: str  # event time, ISO
    origin: str  # the incident whose `assigned` event named it
    data: Mapping[str, Any] = field(default_factory=dict)


def _events(store: Store, incident_id: str) -> list[dict[str, Any]]:
    return store.events_of(incident_id)


def members(store: Store, incident_id: str, merged_from: Iterable[str] = ()) -> list[Ref]:
    """Every post of the incident, oldest first."""
    refs = _members(store, incident_id, tuple(merged_from), set())
    return sorted(refs.values(), key=lambda r: (r.at, r.post_id))


def _members(
    store: Store, incident_id: str, merged_from: tuple[str, ...], seen: set[str]
) -> dict[str, Ref]:
    seen.add(incident_id)
    refs: dict[str, Ref] = {}
    moved_out: set[str] = set()
    for e in _events(store, incident_id):
        data = e.get("data") or {}
        if e["kind"] == "assigned" and data.get("post_id"):
            refs[data["post_id"]] = Ref(data["post_id"], e["at"], incident_id, data)
        elif e["kind"] == "split":
            moved_out.update(data.get("post_ids") or ())
        elif e["kind"] == "opened" and data.get("split_from"):
            origin = data["split_from"]
            wanted = set(data.get("post_ids") or ())
            for r in _assigned(store, origin, wanted):
                refs[r.post_id] = r
    for pid in moved_out:
        refs.pop(pid, None)
    for source in merged_from:
        if source in seen:
            continue
        row = store.incident(source)
        if row is not None:
            refs.update(_members(store, source, row.state.merged_from, seen))
    return refs


def _assigned(store: Store, incident_id: str, wanted: set[str]) -> list[Ref]:
    found = []
    for e in _events(store, incident_id):
        data = e.get("data") or {}
        if e["kind"] == "assigned" and data.get("post_id") in wanted:
            found.append(Ref(data["post_id"], e["at"], incident_id, data))
    return found


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
