"""Wiring for the notifier: one place that picks the ladder, the outbox database and channels."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine, event

from monitor.notify.channels import Channel, DryRunChannel, make_channel
from monitor.notify.config import ChannelSpec, NotifySettings, load_ladder
from monitor.notify.delivery import Clock, DeliveryPolicy, Notifier
from monitor.notify.outbox import Outbox


def wall_clock() -> datetime:
    return datetime.now(UTC)


def channels_for(
    settings: NotifySettings, client: httpx.AsyncClient | None, dry_run: bool
) -> dict[str, Channel]:
    """Real channels, or for a replay dry-run ones under the same names (nothing leaves)."""
    if not dry_run:
        return {name: make_channel(spec, client) for name, spec in settings.channels.items()}
    return {
        name: DryRunChannel(ChannelSpec(name=name, type="dryrun", url="dryrun:"))
        for name in settings.channels
    }


def outbox_engine(db_url: str) -> Engine:
    engine = create_engine(db_url)
    if engine.dialect.name == "sqlite":
        # WAL with synchronous=NORMAL: a commit survives a killed process (the case that
        # matters for "no resend after kill -9"), at a fraction of a full fsync per commit.
        event.listen(engine, "connect", _sqlite_wal)
    return engine


def _sqlite_wal(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def create_notifier(
    db_url: str,
    registry: CollectorRegistry,
    ladder: str | Path | None = None,
    *,
    dry_run: bool = False,
    clock: Clock = wall_clock,
    client: httpx.AsyncClient | None = None,
    policy: DeliveryPolicy | None = None,
) -> Notifier:
    settings = load_ladder(ladder)
    outbox = Outbox(outbox_engine(db_url))
    outbox.create()
    channels = channels_for(settings, client, dry_run)
    return Notifier(settings, outbox, channels, clock, registry, policy)
