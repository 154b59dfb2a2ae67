"""The notifier's outbox kept in memory, for a sandbox that lives one run.

`monitor.notify.outbox.Outbox` stores rows in a database so a restart never sends twice; a
replay has no restart and nothing to keep, and paid ~3 ms of SQL per notification there (a
month of history records a hundred thousand). This keeps the same rows (`OutboxRow`) with the
same transitions in dicts, so the Notifier's decisions (plan, quiet hours, rate windows,
digests, stale warnings) run unchanged on top. `tests/replay` replays one history through
both and compares what each recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitor.notify.outbox import INFLIGHT, PENDING, SENT, SUPERSEDED, UNCERTAIN, NewRow, OutboxRow

FAILED = "failed"


class MemoryOutbox:
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self.keys: set[str] = set()
        self.by_incident: dict[str, list[int]] = {}
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

    def mark_sent(self, ids: Sequence[int], now: datetime, answer: str) -> None:
        for i in ids:
            self._set([i], status=SENT, sent_at=now, last_answer=answer,
                      attempts=self.rows[i].attempts + 1)  # fmt: skip

    def mark_retry(self, ids: Sequence[int], at: datetime, error: str, counted: bool) -> None:
        for i in ids:
            n = self.rows[i].attempts + (1 if counted else 0)
            self._set([i], status=PENDING, next_attempt_at=at, last_error=error, attempts=n)

    def defer(self, ids: Sequence[int], at: datetime) -> None:
        self._set(ids, next_attempt_at=at)

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        for i in ids:
            self._set([i], status=FAILED, last_error=error, attempts=self.rows[i].attempts + 1)

    def mark_uncertain(self, ids: Sequence[int], error: str) -> None:
        self._set(ids, status=UNCERTAIN, last_error=error)

    def mark_alerted(self, ids: Sequence[int]) -> None:
        self._set(ids, alerted=True)

    def mark_superseded(self, ids: Sequence[int], why: str) -> None:
        self._set(ids, status=SUPERSEDED, last_error=why)

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        return [self.rows[i] for i in self.by_incident.get(incident_id, [])]

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
        for i in ids:
            old = self.rows[i]
            row = replace(old, **values)
            self.rows[i] = row
            if row.status != old.status:
                self.statuses[old.status] -= 1
                self.statuses[row.status] += 1
            if row.status == PENDING:
                self.pending.add(i)
            else:
                self.pending.discard(i)
