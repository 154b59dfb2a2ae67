"""Durable store: the archive of every accepted input, the incident read model, the event log,
the notification outbox and the audit log. SQLAlchemy 2 Core; SQLite by default, PostgreSQL by
URL. Every write is idempotent by id, so a redelivered record or a replay changes nothing."""

from monitor.store.db import ArchiveRow, IncidentRow, OutboxConflict, Store, sqlite_url

__all__ = ["ArchiveRow", "IncidentRow", "OutboxConflict", "Store", "sqlite_url"]
