"""Keeping a store whole: the WAL checkpoint at shutdown, integrity checks, consistent backups.

SQLite: the online backup API copies a consistent snapshot while writers go on (WAL lets the
copy read while they write, and one step holds one read transaction, so a write cannot restart
it). PostgreSQL: `pg_dump`, which takes its own snapshot."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

BUSY_MS = 30_000


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL; None for another database or an in-memory one."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@contextlib.contextmanager
def _connect(path: Path, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_MS / 1000, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def checkpoint(path: Path) -> bool:
    """Move everything in the WAL into the database file and empty the WAL, so the file alone
    is whole (a backup or copy of it then holds everything). False if a reader kept part of
    the WAL in use (the next clean stop catches up)."""
    if not path.exists():
        return True
    with _connect(path) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def quick_check(path: Path) -> list[str]:
    """SQLite's structural check: [] when the file is sound, else what it found (up to 10)."""
    with _connect(path, readonly=True) as conn:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check(10)")]
    return [] if rows == ["ok"] else rows


def backup_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of `source` at `target` (written beside it, checked, then renamed)."""
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    with _connect(source, readonly=True) as src, _connect(part) as dst:
        src.backup(dst)  # one step: a consistent snapshot, not restarted by concurrent writes
        dst.execute("PRAGMA journal_mode=DELETE")  # the copy is one self-contained file
    problems = quick_check(part)
    if problems:
        part.unlink(missing_ok=True)
        raise sqlite3.DatabaseError(f"the copy of {source} failed its check: {problems[0]}")
    _fsync(part)
    part.replace(target)
    _fsync(target.parent)


def move_aside(path: Path, suffix: str) -> list[Path]:
    """Rename a SQLite file and its -wal/-shm out of the way (never deleted)."""
    moved = []
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            dest = p.with_name(f"{p.name}.{suffix}")
            p.replace(dest)
            moved.append(dest)
    return moved


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL store as libpq tools want it: a connection URI and the schema, if any."""

    uri: str
    schema: str | None
    password: str | None


def pg_target(url: str) -> PgTarget:
    parsed = sa.make_url(url)
    schema = None
    options = parsed.query.get("options")
    for opt in [options] if isinstance(options, str) else list(options or ()):
        if "search_path" in opt:
            schema = opt.split("=", 1)[1].split(",")[0].strip()
    plain = parsed.set(drivername="postgresql", password=None, query={})
    uri = plain.render_as_string(hide_password=False)
    return PgTarget(uri, schema, parsed.password)


def pg_dump_command(target: PgTarget, out: Path) -> list[str]:
    cmd = ["pg_dump", "--format=custom", f"--file={out}", f"--dbname={target.uri}"]
    if target.schema:
        cmd.append(f"--schema={target.schema}")
    return cmd


def pg_dump(url: str, out: Path) -> None:
    """Run pg_dump into `out`; FileNotFoundError if it is not installed, CalledProcessError
    (with its stderr) if it fails."""
    target = pg_target(url)
    if shutil.which("pg_dump") is None:
        raise FileNotFoundError("pg_dump")
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = target.password
    subprocess.run(pg_dump_command(target, out), check=True, capture_output=True, text=True,
                   env=env)  # fmt: skip
