"""What the web process keeps in memory between requests, so an answer costs what changed since
the last one, not the whole store:

- `ReadModel.states()`: every incident's state, re-read only for incidents whose (rev, fired)
  moved (one cheap query tells which), at most every `max_age` seconds; the live feed's poll
  refreshes it too, before it tells dashboards what changed, so their refetch sees the change.
- `ReadModel.log(id)`: an incident's events, read incrementally by `seq`, kept as what the
  dashboard needs: its posts (`assigned`), the posts split out or in, and the other events
  for the timeline. Bounded: the least recently read incidents are dropped first.

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

from monitor.domain.state import IncidentState
from monitor.store import Store

MAX_AGE_S = 0.25
MAX_LOGS = 256  # incidents whose event log is kept


@dataclass(frozen=True)
class Ref:
    """One member post as the events name it."""

    post_id: str
    at: str  # event time, ISO
    origin: str  # the incident whose `assigned` event named it
    data: dict[str, Any]


@dataclass
class Log:
    seq: int = 0
    assigned: dict[str, Ref] = field(default_factory=dict)
    moved_out: set[str] = field(default_factory=set)
    split_in: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (origin, posts)
    events: list[dict[str, Any]] = field(default_factory=list)  # all but `assigned`

    def add(self, event: dict[str, Any]) -> None:
        kind, data = event["kind"], event.get("data") or {}
        if kind == "assigned" and data.get("post_id"):
            pid = data["post_id"]
            self.assigned[pid] = Ref(pid, event["at"], event["incident_id"], data)
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

    def members(self, incident_id: str, merged_from: Iterable[str] = ()) -> list[Ref]:
        """Every post of the incident, oldest first (across merges and splits)."""
        refs = self._members(incident_id, tuple(merged_from), set())
        return sorted(refs.values(), key=lambda r: (r.at, r.post_id))

    def _members(
        self, incident_id: str, merged_from: tuple[str, ...], seen: set[str]
    ) -> dict[str, Ref]:
        seen.add(incident_id)
        log = self.log(incident_id)
        refs = {p: r for p, r in log.assigned.items() if p not in log.moved_out}
        for origin, posts in log.split_in:
            moved = self.log(origin).assigned
            refs.update((p, moved[p]) for p in posts if p in moved)
        for source in merged_from:
            if source not in seen:
                state = self.state(source)
                refs.update(self._members(source, state.merged_from if state else (), seen))
        return refs
