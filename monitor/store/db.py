"""The Store: a thin, synchronous, idempotent writer and reader over schema.py."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from monitor.domain import clocks
from monitor.domain.events import Event
from monitor.domain.state import IncidentState
from monitor.store import schema

_json = msgspec.json.Encoder()
_state_decoder = msgspec.json.Decoder(IncidentState)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def dialect_insert(engine: sa.Engine, table: sa.Table) -> Any:
    """An INSERT into `table` for `engine`'s database that can take ON CONFLICT (the store's
    and the connectors' writes are idempotent by id); SQLite and PostgreSQL only."""
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database {name!r}: use SQLite or PostgreSQL")


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class ArchiveRow:
    seq: int
    kind: str
    id: str
    key: str | None
    body: bytes
    accepted_at: str


@dataclass(frozen=True)
class IncidentRow:
    id: str
    key: str
    state: IncidentState


INSERT_PAGE = 100  # rows per INSERT statement (see Store.__init__)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            # the worker writes from a helper thread; SQLite serialises writers itself
            connect_args = {"check_same_thread": False, "timeout": 30, "cached_statements": 32}
        # Each batch length of a multi-row INSERT is a statement of its own, and sqlite3 keeps
        # up to 128 prepared per connection (one per writer thread): at SQLAlchemy's 1,000 rows
        # a statement is ~0.7 MB, which made SQLite half of a flooded worker's memory. Pages of
        # 100 rows keep them ~70 kB, and 32 cached statements a connection bound the rest.
        self.engine = sa.create_engine(
            url, connect_args=connect_args, future=True, insertmanyvalues_page_size=INSERT_PAGE
        )
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        schema.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- inserts that ignore a row already there -----------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        return dialect_insert(self.engine, table)

    def archive(
        self, kind: str, ident: str, body: bytes, key: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Archive one accepted input. True if it is new; False if that id was already kept."""
        return self.archive_many([(kind, ident, body, key)], now) == 1

    def archive_many(
        self, rows: Sequence[tuple[str, str, bytes, str | None]], now: datetime | None = None
    ) -> int:
        if not rows:
            return 0
        at = iso(now or datetime.now(UTC))
        values = [
            {"kind": k, "id": i, "key": key, "body": b.decode(), "accepted_at": at}
            for k, i, b, key in rows
        ]
        stmt = self._insert(schema.archive).on_conflict_do_nothing(index_elements=["kind", "id"])
        with self.engine.begin() as conn:
            return _inserted(conn, stmt.returning(schema.archive.c.seq), values)

    def archived(self, after_seq: int = 0) -> Iterator[ArchiveRow]:
        q = sa.select(schema.archive).where(schema.archive.c.seq > after_seq)
        with self.engine.connect() as conn:
            for r in conn.execute(q.order_by(schema.archive.c.seq)):
                yield ArchiveRow(r.seq, r.kind, r.id, r.key, r.body.encode(), r.accepted_at)

    def archived_bodies(self, kind: str, ids: Sequence[str]) -> dict[str, bytes]:
        """The archived bodies of these ids (one kind), by id; ids never archived are absent."""
        t = schema.archive
        found: dict[str, bytes] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                chunk = ids[i : i + 500]
                q = sa.select(t.c.id, t.c.body).where(t.c.kind == kind, t.c.id.in_(chunk))
                found.update((r.id, r.body.encode()) for r in conn.execute(q))
        return found

    def record_events(self, evs: Iterable[Event]) -> int:
        values = [
            {"id": e.id, "incident_id": e.incident_id, "kind": e.kind.value, "at": iso(e.at),
             "body": _json.encode(e).decode()}
            for e in evs
        ]  # fmt: skip
        if not values:
            return 0
        stmt = self._insert(schema.events).on_conflict_do_nothing(index_elements=["id"])
        with self.engine.begin() as conn:
            return _inserted(conn, stmt.returning(schema.events.c.seq), values)

    def save_states(self, states: Iterable[IncidentState]) -> None:
        """Upsert the read model; an older revision never overwrites a newer one."""
        newest: dict[str, IncidentState] = {}
        for s in states:
            if s.id not in newest or _order(s) >= _order(newest[s.id]):
                newest[s.id] = s
        if not newest:
            return
        values = [_incident_values(s) for s in newest.values()]
        ins = self._insert(schema.incidents)
        stmt = ins.on_conflict_do_update(
            index_elements=["id"],
            set_={c: ins.excluded[c] for c in values[0] if c != "id"},
            where=sa.or_(
                ins.excluded.rev > schema.incidents.c.rev,
                sa.and_(
                    ins.excluded.rev == schema.incidents.c.rev,
                    ins.excluded.fired >= schema.incidents.c.fired,
                ),
            ),
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, values)

    def audit(
        self, who: str, what: str, incident_id: str | None, detail: dict[str, Any],
        now: datetime | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                schema.audit.insert().values(
                    at=iso(now or datetime.now(UTC)), who=who, what=what,
                    incident_id=incident_id, detail=json.dumps(detail, ensure_ascii=False),
                )
            )  # fmt: skip

    # --- reads -----------------------------------------------------------------------------

    def incidents(self) -> list[IncidentRow]:
        q = sa.select(schema.incidents).order_by(schema.incidents.c.first_seen)
        with self.engine.connect() as conn:
            return [
                IncidentRow(r.id, r.key, _state_decoder.decode(r.state)) for r in conn.execute(q)
            ]

    def incident(self, ident: str) -> IncidentRow | None:
        q = sa.select(schema.incidents).where(schema.incidents.c.id == ident)
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        return IncidentRow(r.id, r.key, _state_decoder.decode(r.state)) if r else None

    def events_of(self, incident_id: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(schema.events.c.body).order_by(schema.events.c.seq)
        if incident_id is not None:
            q = q.where(schema.events.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [json.loads(b) for (b,) in conn.execute(q)]

    def events_after(
        self, seq: int, limit: int = 1000, skip_kinds: Sequence[str] = ()
    ) -> list[tuple[int, dict[str, Any]]]:
        """(seq, event) newer than `seq`, oldest first: what a live dashboard has not seen."""
        t = schema.events
        q = sa.select(t.c.seq, t.c.body).where(t.c.seq > seq)
        if skip_kinds:
            q = q.where(t.c.kind.not_in(skip_kinds))
        with self.engine.connect() as conn:
            return [(n, json.loads(b)) for n, b in conn.execute(q.order_by(t.c.seq).limit(limit))]

    def incident_events_after(self, incident_id: str, seq: int) -> list[tuple[int, dict[str, Any]]]:
        """(seq, event) of one incident newer than `seq`, oldest first."""
        t = schema.events
        q = sa.select(t.c.seq, t.c.body).where(t.c.incident_id == incident_id, t.c.seq > seq)
        with self.engine.connect() as conn:
            return [(n, json.loads(b)) for n, b in conn.execute(q.order_by(t.c.seq))]

    def incident_events_of_kind(
        self, incident_id: str, kind: str, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """One incident's events of one kind, newest first (by event time, then id): a page of
        its posts (`assigned`) without reading the others."""
        t = schema.events
        q = (
            sa.select(t.c.body).where(t.c.incident_id == incident_id, t.c.kind == kind)
            .order_by(t.c.at.desc(), t.c.id.desc()).limit(limit).offset(offset)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [json.loads(b) for (b,) in conn.execute(q)]

    def events_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        t = schema.events
        out: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.c.body).where(t.c.id.in_(ids[i : i + 500]))
                out += [json.loads(b) for (b,) in conn.execute(q)]
        return out

    def incidents_by_id(self, ids: Sequence[str]) -> list[IncidentRow]:
        t = schema.incidents
        rows: list[IncidentRow] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = sa.select(t.c.id, t.c.key, t.c.state).where(t.c.id.in_(ids[i : i + 500]))
                rows += [IncidentRow(r.id, r.key, _state_decoder.decode(r.state))
                         for r in conn.execute(q)]  # fmt: skip
        return rows

    def last_event_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema.events.c.seq))).scalar() or 0)

    def incident_versions(self) -> dict[str, tuple[int, int]]:
        """id → (rev, fired) of every incident: a cheap way to see which states changed."""
        t = schema.incidents
        q = sa.select(t.c.id, t.c.rev, t.c.fired)
        with self.engine.connect() as conn:
            return {r.id: (r.rev, r.fired) for r in conn.execute(q)}

    def audit_of(self, incident_id: str) -> list[dict[str, Any]]:
        t = schema.audit
        q = sa.select(t).where(t.c.incident_id == incident_id).order_by(t.c.seq)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def audit_rows(self) -> list[dict[str, Any]]:
        q = sa.select(schema.audit).order_by(schema.audit.c.seq)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]


def _inserted(conn: sa.Connection, stmt: Any, values: list[dict[str, Any]]) -> int:
    """Rows actually inserted: ON CONFLICT DO NOTHING returns only those."""
    return len(conn.execute(stmt, values).all())


def _order(s: IncidentState) -> tuple[int, int]:
    return s.rev, len(s.fired)


def _incident_values(s: IncidentState) -> dict[str, Any]:
    due = clocks.next_due(s)
    return {
        "id": s.id, "key": s.key, "rev": s.rev, "fired": len(s.fired), "status": s.status.value,
        "grade": s.grade.value,
        "category": s.category, "title": s.title, "first_seen": iso(s.first_seen),
        "next_due": iso(due) if due else None, "state": _json.encode(s).decode(),
    }  # fmt: skip


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets `monitor incidents` read while the worker writes; synchronous=FULL so a power
    # cut after commit keeps the row (kill -9 alone would not need it).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()
