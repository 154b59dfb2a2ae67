"""The notifier's outbox kept in memory, for a sandbox that lives one run.

`monitor.notify.outbox.Outbox` stores rows in a database so a restart never sends twice; a
replay has no restart and nothing to keep, and paid ~3 ms of SQL per notification there (a
month of history records a hundred thousand). This keeps the same rows (`OutboxRow`) in dicts,
with the same transitions (`Transitions`, written once for both), so the Notifier's decisions
(plan, quiet hours, rate windows, digests, stale warnings) run unchanged on top.
`tests/replay` replays one history through both and compares what each recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.notify.outbox import (
    INFLIGHT,
    ONE_MORE,
    PENDING,
    NewRow,
    OutboxRow,
    Transitions,
)

_UNKEPT = frozenset({"claim_id", "claimed_at"})  # columns the database keeps for its claims


class MemoryOutbox(Transitions):
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self.keys: set[str] = set()
        self.by_incident: dict[str, list[int]] = {}
        # (incident, clock) → its rows: the stale-warning check of each warning reads the
        # rows of its own clock, not every row of its incident (20,000 posts of the replay
        # benchmark made that 1.2 million reads)
        self.by_clock: dict[tuple[str, str], list[int]] = {}
        self.pending: set[int] = set()
        self.statuses: Counter[str] = Counter()

    def create(self) -> None:
        return None

    def enqueue(self, rows: Sequence[NewRow], now: datetime) -> int:
        new = 0
        for r in rows:
            if r.key in self.keys:
                continue
            ident = len(self.rows) + 1
            self.rows[ident] = OutboxRow(
                id=ident, key=r.key, message_key=r.message_key, incident_id=r.incident_id,
                channel=r.channel, message=r.message, recipients=r.recipients, status=PENDING,
                attempts=0, next_attempt_at=r.not_before, created_at=now, batch_key=None,
                sent_at=None, last_error=None, last_answer=None, alerted=False,
            )  # fmt: skip
            self.keys.add(r.key)
            self.by_incident.setdefault(r.incident_id, []).append(ident)
            if r.clock_id is not None:
                self.by_clock.setdefault((r.incident_id, r.clock_id), []).append(ident)
            self.pending.add(ident)
            self.statuses[PENDING] += 1
            new += 1
        return new

    def due(self, now: datetime, limit: int) -> list[OutboxRow]:
        rows = [self.rows[i] for i in self.pending if self.rows[i].next_attempt_at <= now]
        return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))[:limit]

    def next_due(self) -> datetime | None:
        """When the earliest pending row falls due (the sandbox drains the outbox then)."""
        return min((self.rows[i].next_attempt_at for i in self.pending), default=None)

    def claim(
        self, ids: Sequence[int], claim_id: str, now: datetime, batch_key: str | None
    ) -> list[OutboxRow]:
        mine = [i for i in ids if self.rows[i].status == PENDING]
        self._set(mine, status=INFLIGHT, batch_key=batch_key)
        return [self.rows[i] for i in sorted(mine)]

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        return [self.rows[i] for i in self.by_incident.get(incident_id, [])]

    def for_clock(self, incident_id: str, clock_id: str) -> list[OutboxRow]:
        return [self.rows[i] for i in self.by_clock.get((incident_id, clock_id), [])]

    def inflight(self) -> list[OutboxRow]:
        return [r for r in self.rows.values() if r.status == INFLIGHT]

    def all(self) -> list[OutboxRow]:
        return list(self.rows.values())

    def count_by_status(self) -> dict[str, int]:
        return {k: n for k, n in self.statuses.items() if n}

    def sends_since(self, channel: str, since: datetime) -> list[datetime]:
        first: dict[str, datetime] = {}
        for r in self.rows.values():
            if r.channel == channel and r.sent_at is not None and r.sent_at >= since:
                k = r.batch_key or r.key
                first[k] = min(first.get(k, r.sent_at), r.sent_at)
        return list(first.values())

    def _set(self, ids: Sequence[int], **values: Any) -> None:
        kept = {k: v for k, v in values.items() if k not in _UNKEPT}
        one_more = kept.get("attempts") is ONE_MORE
        for i in ids:
            old = self.rows[i]
            fields = {**old.__dict__, **kept}
            if one_more:
                fields["attempts"] = old.attempts + 1
            row = OutboxRow(**fields)
            self.rows[i] = row
            if row.status != old.status:
                self.statuses[old.status] -= 1
                self.statuses[row.status] += 1
            if row.status == PENDING:
                self.pending.add(i)
            else:
                self.pending.discard(i)
