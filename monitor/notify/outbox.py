"""The persisted outbox: one row per (notification, channel), claimed before it is sent.

Delivery semantics (the requirement is "a restart never sends twice"):
- a row is set `inflight` and committed *before* the request goes out, and `sent` after;
- a row found `inflight` at start-up was cut off mid-send: nobody knows whether the service
  got it. For channels whose service drops repeats of our idempotency key (the signed webhook,
  dry-run) it is resent with the same key. For the others (robots, SMTP) it is marked
  `uncertain` and *not* resent; duty staff are alerted to check it by hand. That is
  at-most-once for those channels, chosen because a duplicate escalation to a leader costs
  more trust than a notice a human is told to verify.
One dispatcher process owns one outbox; a second would treat the first's in-flight rows as
cut off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import TypeDecorator

PENDING, INFLIGHT, SENT, FAILED, UNCERTAIN = "pending", "inflight", "sent", "failed", "uncertain"
SUPERSEDED = "superseded"  # a stale warning, not sent (see Notifier._drop_stale)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; gives back aware datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the outbox; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


metadata = MetaData()

outbox_table = Table(
    "notify_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("message_key", String(300), nullable=False, index=True),
    Column("incident_id", String(200), nullable=False, index=True),
    Column("channel", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("recipients", Text, nullable=False),
    Column("status", String(12), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime),
    Column("claim_id", String(64)),
    Column("batch_key", String(400)),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_answer", Text),
    Column("alerted", Boolean, nullable=False, default=False),
)


@dataclass(frozen=True)
class NewRow:
    key: str
    message_key: str
    incident_id: str
    channel: str
    message: str
    recipients: str
    not_before: datetime
    # the clock a warning or breach is about (in `message` too): an outbox may index rows by
    # it for `for_clock`; the database keeps no column of it
    clock_id: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    message_key: str
    incident_id: str
    channel: str
    message: str
    recipients: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    batch_key: str | None
    sent_at: datetime | None
    last_error: str | None
    last_answer: str | None
    alerted: bool


_FIELDS = [f for f in OutboxRow.__dataclass_fields__]


class _OneMore:
    """`attempts` counted up by one, each store its own way (the database in its UPDATE)."""


ONE_MORE: Any = _OneMore()


class Transitions:
    """A row's transitions once it is stored, written once for the database (`Outbox`) and
    the replay sandbox's memory (`monitor.replay.memory_outbox`): each store's `_set` applies
    the values to the rows named, ONE_MORE counting `attempts` up."""

    def _set(self, ids: Sequence[int], **values: Any) -> None:
        raise NotImplementedError

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        raise NotImplementedError

    def for_clock(self, incident_id: str, clock_id: str) -> list[OutboxRow]:
        """At least every row of `incident_id` about the clock `clock_id`, oldest first (the
        stale-warning check filters them again). A store without an index of clocks gives
        every row of the incident."""
        return self.for_incident(incident_id)

    def mark_sent(self, ids: Sequence[int], now: datetime, answer: str) -> None:
        self._set(ids, status=SENT, sent_at=now, last_answer=answer, attempts=ONE_MORE)

    def mark_retry(self, ids: Sequence[int], at: datetime, error: str, counted: bool) -> None:
        extra: dict[str, Any] = {"attempts": ONE_MORE} if counted else {}
        self._set(ids, status=PENDING, next_attempt_at=at, last_error=error, claim_id=None, **extra)

    def defer(self, ids: Sequence[int], at: datetime) -> None:
        self._set(ids, next_attempt_at=at)

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        self._set(ids, status=FAILED, last_error=error, attempts=ONE_MORE)

    def mark_uncertain(self, ids: Sequence[int], error: str) -> None:
        self._set(ids, status=UNCERTAIN, last_error=error)

    def mark_alerted(self, ids: Sequence[int]) -> None:
        self._set(ids, alerted=True)

    def mark_superseded(self, ids: Sequence[int], why: str) -> None:
        self._set(ids, status=SUPERSEDED, last_error=why)


class Outbox(Transitions):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        metadata.create_all(self.engine)

    def enqueue(self, rows: Sequence[NewRow], now: datetime) -> int:
        """Insert rows whose key is new; a repeated key is ignored. Returns how many were new."""
        if not rows:
            return 0
        values = [_new_values(r, now) for r in rows]
        stmt = _insert_ignore(self.engine.dialect.name).values(values)
        with self.engine.begin() as conn:
            # INSERT … ON CONFLICT DO NOTHING reports only the rows it inserted.
            return int(conn.execute(stmt).rowcount)

    def due(self, now: datetime, limit: int) -> list[OutboxRow]:
        t = outbox_table
        q = (
            select(*(t.c[f] for f in _FIELDS))
            .where(t.c.status == PENDING, t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
        )
        return self._rows(q)

    def claim(
        self, ids: Sequence[int], claim_id: str, now: datetime, batch_key: str | None
    ) -> list[OutboxRow]:
        """Mark rows in flight and commit, before the send. Rows someone else took are skipped."""
        t = outbox_table
        with self.engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.id.in_(ids), t.c.status == PENDING)
                .values(status=INFLIGHT, claim_id=claim_id, claimed_at=now, batch_key=batch_key)
            )
        q = select(*(t.c[f] for f in _FIELDS)).where(t.c.id.in_(ids), t.c.claim_id == claim_id)
        return self._rows(q)

    def for_incident(self, incident_id: str) -> list[OutboxRow]:
        """Every row about one incident, oldest first (the incident page's notifications)."""
        t = outbox_table
        q = select(*(t.c[f] for f in _FIELDS)).where(t.c.incident_id == incident_id)
        return self._rows(q.order_by(t.c.id))

    def inflight(self) -> list[OutboxRow]:
        t = outbox_table
        return self._rows(select(*(t.c[f] for f in _FIELDS)).where(t.c.status == INFLIGHT))

    def all(self) -> list[OutboxRow]:
        t = outbox_table
        return self._rows(select(*(t.c[f] for f in _FIELDS)).order_by(t.c.id))

    def count_by_status(self) -> dict[str, int]:
        t = outbox_table
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all()
        return {status: int(n) for status, n in rows}

    def sends_since(self, channel: str, since: datetime) -> list[datetime]:
        """Times of requests made to `channel` since `since` (a digest counts once)."""
        t = outbox_table
        q = (
            select(func.min(t.c.sent_at))
            .where(t.c.channel == channel, t.c.sent_at >= since)
            .group_by(func.coalesce(t.c.batch_key, t.c.key))
        )
        with self.engine.connect() as conn:
            return [v for (v,) in conn.execute(q).all()]

    def _set(self, ids: Sequence[int], **values: Any) -> None:
        if values.get("attempts") is ONE_MORE:
            values["attempts"] = outbox_table.c.attempts + 1
        with self.engine.begin() as conn:
            conn.execute(update(outbox_table).where(outbox_table.c.id.in_(ids)).values(**values))

    def _rows(self, q: Any) -> list[OutboxRow]:
        with self.engine.connect() as conn:
            return [OutboxRow(**dict(r._mapping)) for r in conn.execute(q).all()]


def _new_values(r: NewRow, now: datetime) -> dict[str, Any]:
    return {
        "key": r.key, "message_key": r.message_key, "incident_id": r.incident_id,
        "channel": r.channel, "message": r.message, "recipients": r.recipients,
        "status": PENDING, "attempts": 0, "next_attempt_at": r.not_before, "created_at": now,
        "alerted": False,
    }  # fmt: skip


def _insert_ignore(dialect: str) -> Any:
    if dialect == "postgresql":
        return pg_insert(outbox_table).on_conflict_do_nothing(index_elements=["key"])
    if dialect == "sqlite":
        return sqlite_insert(outbox_table).on_conflict_do_nothing(index_elements=["key"])
    return insert(outbox_table).prefix_with("IGNORE")
