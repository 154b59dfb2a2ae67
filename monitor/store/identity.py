"""Which store this is. One row, minted when a data directory first creates its store, so the
data directory can later tell its own store from a missing, emptied or swapped one.

A table of its own (not in schema.py): only the data-directory guard creates it, so a store
opened by a test or a scale-out worker is never given an identity by accident."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()

store_identity = sa.Table(
    "store_identity",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),  # "monitor" | "notify"
    sa.Column("created_at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class Identity:
    id: str
    role: str
    created_at: str


def read_identity(engine: sa.Engine) -> Identity | None:
    """The store's identity, or None if it was never given one (new, emptied or pre-dating)."""
    if not sa.inspect(engine).has_table(store_identity.name):
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.select(store_identity).limit(1)).first()
    return Identity(row.id, row.role, row.created_at) if row else None


def mint_identity(engine: sa.Engine, role: str, now: datetime | None = None) -> Identity:
    """Give the store an identity unless it has one; returns the identity it ends up with."""
    kept = read_identity(engine)
    if kept is not None:
        return kept
    metadata.create_all(engine)
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    with engine.begin() as conn:
        if conn.execute(sa.select(store_identity.c.id).limit(1)).first() is None:
            conn.execute(store_identity.insert().values(id=uuid.uuid4().hex, role=role,
                                                        created_at=at))  # fmt: skip
    minted = read_identity(engine)
    assert minted is not None
    return minted
