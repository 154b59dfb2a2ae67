"""Tables. Times are ISO-8601 UTC text: SQLite has no zone-aware type, and UTC text sorts."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Every accepted input (post, action) in arrival order; `seq` is the replay order.
archive = sa.Table(
    "archive",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("id", sa.String(200), nullable=False),
    sa.Column("key", sa.String(200)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("accepted_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("kind", "id", name="uq_archive_kind_id"),
)

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("key", sa.String(200), nullable=False),
    # `rev` counts inputs only (the domain keeps it equal in live and replay); clock firings
    # between inputs show as more `fired`, so (rev, fired) orders the snapshots of one incident.
    sa.Column("rev", sa.Integer, nullable=False),
    sa.Column("fired", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("grade", sa.String(4), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("first_seen", sa.String(40), nullable=False),
    sa.Column("next_due", sa.String(40)),
    sa.Column("state", sa.Text, nullable=False),  # msgspec JSON of IncidentState
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("id", sa.String(300), nullable=False, unique=True),
    sa.Column("incident_id", sa.String(80), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("who", sa.String(120), nullable=False),
    sa.Column("what", sa.String(60), nullable=False),
    sa.Column("incident_id", sa.String(80), index=True),
    sa.Column("detail", sa.Text, nullable=False, default="{}"),
)

# Dashboard and API users (monitor/store/users.py): the token's SHA-256, never the token.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("body", sa.String(120)),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("rotated_at", sa.String(40)),
)

# An incident duty staff shared with a body that is not responsible for it (read access).
shares = sa.Table(
    "shares",
    metadata,
    sa.Column("incident_id", sa.String(80), primary_key=True),
    sa.Column("body", sa.String(120), primary_key=True, index=True),
    sa.Column("by", sa.String(120), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)
