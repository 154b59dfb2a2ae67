"""What the web process keeps in memory between requests, so an answer costs what changed since
the last one, not the whole store, and stays bounded however many posts arrive:

- `ReadModel.states()`: every incident's state, re-read only for incidents whose (rev, fired)
  moved (one cheap query tells which), at most every `max_age` seconds; the live feed's poll
  refreshes it too, before it tells dashboards what changed, so their refetch sees the change.
- `ReadModel.log(id)`: an incident's events, read incrementally by `seq`, kept as what the
  dashboard needs: a `Tally` of its posts (count, gravest facts, heat; monitor/web/posts.py),
  the posts split out or in, and the other events for the timeline. No post is kept: a page
  of posts is read from the store when asked for. At most MAX_LOGS incidents, the least
  recently read dropped first.

An incident touched by a split or a merge has members from several logs; its answers are
computed from the store on each request (rare, and nothing is kept).

During a flood every incident changes every few hundred milliseconds; decoding each state once
per change instead of once per request is the difference between a list answered from memory
and one that decodes every state for every dashboard.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from monitor.domain.incidents import assigned_id
from monitor.domain.state import IncidentState
from monitor.store import Store
from monitor.web.posts import Ref, Tally, newest, tally

MAX_AGE_S = 0.25
MAX_LOGS = 256  # incidents whose event log is kept


@dataclass
class Log:
    seq: int = 0
    posts: Tally = field(default_factory=Tally)  # its own `assigned` posts
    moved_out: set[str] = field(default_factory=set)
    split_in: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (origin, posts)
    events: list[dict[str, Any]] = field(default_factory=list)  # all but `assigned`

    def add(self, event: dict[str, Any]) -> None:
        kind, data = event["kind"], event.get("data") or {}
        if kind == "assigned" and data.get("post_id"):
            self.posts.add(event["at"], data)
            return
        if kind == "split":
            self.moved_out.update(data.get("post_ids") or ())
        elif kind == "opened" and data.get("split_from"):
            self.split_in.append((data["split_from"], tuple(data.get("post_ids") or ())))
        self.events.append(event)


class ReadModel:
    def __init__(self, store: Store, max_age: float = MAX_AGE_S) -> None:
        self.store = store
        self.max_age = max_age
        self._states: dict[str, IncidentState] = {}
        self._versions: dict[str, tuple[int, int]] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self._logs: OrderedDict[str, Log] = OrderedDict()
        self._log_lock = threading.Lock()

    # --- states ------------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Re-read what changed; returns the ids of incidents whose state changed."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> list[str]:
        versions = self.store.incident_versions()
        changed = [i for i, v in versions.items() if self._versions.get(i) != v]
        for row in self.store.incidents_by_id(changed):
            self._states[row.id] = row.state
        for gone in set(self._states) - set(versions):
            del self._states[gone]
        self._versions = versions
        self._checked = time.monotonic()
        return changed

    def states(self) -> list[IncidentState]:
        with self._lock:
            if time.monotonic() - self._checked > self.max_age:
                self._refresh()
            return list(self._states.values())

    def cached(self, incident_id: str) -> IncidentState | None:
        """As of the last refresh (the live feed's view), without asking the store."""
        return self._states.get(incident_id)

    def state(self, incident_id: str) -> IncidentState | None:
        """Always current: the one incident a request is about is read from the store."""
        row = self.store.incident(incident_id)
        return row.state if row is not None else None

    # --- event logs --------------------------------------------------------------------------

    def log(self, incident_id: str) -> Log:
        with self._log_lock:
            log = self._logs.pop(incident_id, None) or Log()
            self._logs[incident_id] = log  # most recently used last
            while len(self._logs) > MAX_LOGS:
                self._logs.popitem(last=False)
            for seq, event in self.store.incident_events_after(incident_id, log.seq):
                log.add(event)
                log.seq = seq
            return log

    def simple(self, incident_id: str, merged_from: Iterable[str]) -> Log | None:
        """The incident's log when its members are exactly its own `assigned` posts."""
        if tuple(merged_from):
            return None
        log = self.log(incident_id)
        return None if log.moved_out or log.split_in else log

    def tally(self, incident_id: str, merged_from: Iterable[str] = ()) -> Tally:
        """Count, gravest facts and heat of every post of the incident."""
        log = self.simple(incident_id, merged_from)
        if log is not None:
            with self._log_lock:  # a copy: another request's read may be adding to it
                return log.posts.copy()
        return tally(self.members(incident_id, merged_from))

    def page(
        self, incident_id: str, merged_from: Iterable[str], number: int, size: int
    ) -> tuple[int, list[Ref]]:
        """(posts in all, page `number` from 1 of them newest first)."""
        log = self.simple(incident_id, merged_from)
        if log is not None:
            events = self.store.incident_events_of_kind(
                incident_id, "assigned", limit=size, offset=(number - 1) * size
            )
            return log.posts.count, [Ref.of(e) for e in events]
        refs = self.members(incident_id, merged_from)
        return len(refs), newest(refs, number, size)

    def members(self, incident_id: str, merged_from: Iterable[str] = ()) -> list[Ref]:
        """Every post of the incident (across merges and splits), read from the store: for an
        incident a split or merge touched; the caller holds them for one request only."""
        return list(self._members(incident_id, tuple(merged_from), set()).values())

    def _members(
        self, incident_id: str, merged_from: tuple[str, ...], seen: set[str]
    ) -> dict[str, Ref]:
        seen.add(incident_id)
        log = self.log(incident_id)
        own = (Ref.of(e) for e in self.store.incident_events_of_kind(incident_id, "assigned"))
        refs = {r.post_id: r for r in own if r.post_id not in log.moved_out}
        for origin, post_ids in log.split_in:
            moved = self.store.events_by_id([assigned_id(origin, p) for p in post_ids])
            refs.update((r.post_id, r) for r in map(Ref.of, moved))
        for source in merged_from:
            if source not in seen:
                state = self.state(source)
                refs.update(self._members(source, state.merged_from if state else (), seen))
        return refs
