"""Durable store: the archive of every accepted input, the incident read model, the event log
and the audit log. SQLAlchemy 2 Core; SQLite by default, PostgreSQL by URL. Every write is
idempotent by id, so a redelivered record or a replay changes nothing. Notifications have their
own persisted outbox (monitor/notify/outbox.py), fed from the `notifications` topic."""

from monitor.store.db import ArchiveRow, IncidentRow, Store, dialect_insert, sqlite_url

__all__ = ["ArchiveRow", "IncidentRow", "Store", "dialect_insert", "sqlite_url"]
