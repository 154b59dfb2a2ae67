"""Posts fed to the embedded monitor are archived before they reach the memory-only broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from connectors.sink import ArchivingSink, MemorySink
from monitor.domain.model import Post
from monitor.store import Store
from monitor.store.db import sqlite_url

POSTS = [
    Post(id=f"rss:{i}", text=f"安岳县一民房起火 {i}", published_at=datetime(2026, 11, 1, 8, i, tzinfo=UTC))
    for i in range(3)
]


async def test_archived_before_sent_and_readable_by_replay(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "monitor.db"))
    order: list[str] = []
    inner = MemorySink()

    def archive(bodies: list[tuple[str, bytes]]) -> None:
        assert inner.posts == [], "archive must come before the broker"
        order.append("archive")
        store.archive_many([("post", pid, body, None) for pid, body in bodies])

    sink = ArchivingSink(archive, inner)
    await sink.send(POSTS)
    rows = list(store.archived())
    assert [r.id for r in rows] == [p.id for p in POSTS]
    assert [msgspec.json.decode(r.body, type=Post) for r in rows] == POSTS
    assert inner.ids == [p.id for p in POSTS] and order == ["archive"]
    store.close()


async def test_failed_archive_sends_nothing() -> None:
    def archive(_: object) -> None:
        raise OSError("disk full")

    inner = MemorySink()
    with pytest.raises(OSError, match="disk full"):
        await ArchivingSink(archive, inner).send(POSTS)
    assert inner.posts == []  # the runner keeps its checkpoint and retries the batch


async def test_failed_send_after_archive_raises_so_the_batch_is_retried(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "monitor.db"))
    inner = MemorySink()
    inner.fail_next = 1
    sink = ArchivingSink(lambda b: store.archive_many([("post", i, x, None) for i, x in b]), inner)
    with pytest.raises(ConnectionError):
        await sink.send(POSTS)
    await sink.send(POSTS)  # the retry: archived once (idempotent by id), sent once
    assert len(list(store.archived())) == 3 and len(inner.posts) == 3
    store.close()
