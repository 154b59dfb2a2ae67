"""Where each source remembers how far it has read and which posts it has already sent.

Two tables of our own (any SQLAlchemy URL; a SQLite file by default):

- `connector_checkpoint`: one JSON state per source (last id, ETag, Last-Modified, cursor…);
- `connector_seen`: the post ids a source has handed to the sink, for dedup across restarts.

`commit` writes both in one transaction and is only called after the sink acknowledged the
batch, so a kill -9 at any point either repeats a batch (removed downstream by post id, and
here by `connector_seen`) or loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    select,
)

from monitor.store import dialect_insert

DEFAULT_URL = "sqlite:///connectors.db"
_ID_CHUNK = 500  # stays under SQLite's bound-parameter limit

metadata = MetaData()
checkpoint_table = Table(
    "connector_checkpoint",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
seen_table = Table(
    "connector_seen",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("post_id", String(400), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)


class CheckpointStore:
    """Checkpoints and seen ids per source. Thread-safe through SQLAlchemy's pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str = DEFAULT_URL) -> CheckpointStore:
        return cls(create_engine(url, future=True))

    def load(self, source: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            raw = conn.execute(
                select(checkpoint_table.c.state).where(checkpoint_table.c.source == source)
            ).scalar_one_or_none()
        return dict(json.loads(raw)) if raw else {}

    def seen(self, source: str, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _ID_CHUNK):
                chunk = wanted[i : i + _ID_CHUNK]
                rows = conn.execute(
                    select(seen_table.c.post_id).where(
                        seen_table.c.source == source, seen_table.c.post_id.in_(chunk)
                    )
                )
                found.update(r[0] for r in rows)
        return found

    def commit(
        self, source: str, state: Mapping[str, Any], ids: Iterable[str], now: datetime
    ) -> None:
        """Record a batch the sink has acknowledged: new state and its post ids, atomically.

        Ids already known get their `seen_at` refreshed: an item a feed still lists is never
        pruned and then sent again.
        """
        rows = [{"source": source, "post_id": i, "seen_at": now} for i in dict.fromkeys(ids)]
        with self.engine.begin() as conn:
            for i in range(0, len(rows), _ID_CHUNK):
                conn.execute(self._upsert_seen(), rows[i : i + _ID_CHUNK])
            conn.execute(
                self._upsert_checkpoint(),
                {"source": source, "state": json.dumps(dict(state)), "updated_at": now},
            )

    def prune(self, older_than: datetime) -> int:
        """Forget ids last seen before a cutoff (no source still lists them)."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(seen_table).where(seen_table.c.seen_at < older_than))
        return int(result.rowcount or 0)

    def _upsert_seen(self) -> Any:
        stmt = dialect_insert(self.engine, seen_table)
        return stmt.on_conflict_do_update(
            index_elements=[seen_table.c.source, seen_table.c.post_id],
            set_={"seen_at": stmt.excluded.seen_at},
        )

    def _upsert_checkpoint(self) -> Any:
        stmt = dialect_insert(self.engine, checkpoint_table)
        return stmt.on_conflict_do_update(
            index_elements=[checkpoint_table.c.source],
            set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
        )


SEEN_RETENTION = timedelta(days=30)
