"""`monitor backup` and `monitor restore`: a consistent copy of a data directory's stores, and
the ways back from a lost or broken one (see guard.py for when the monitor refuses to start).

A backup is a directory: `monitor.db` and `notify.db` (the notifier's record of what it sent:
without it a replay would send old notifications again), each copied with SQLite's online
backup API while the monitor may be running, checked, and described in `backup.json`. On
PostgreSQL the backup is `pg_dump`'s (custom format), run when pg_dump is installed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from monitor.runtime.datadir import Runtime, default_db_url, notify_db_url
from monitor.runtime.guard import (
    diagnose,
    forget,
    now_suffix,
    preflight,
    read_manifest,
    remember,
)
from monitor.store import Store
from monitor.store import schema as tables
from monitor.store.faults import Kind, StoreFault, fault_of
from monitor.store.identity import Identity, mint_identity, read_identity
from monitor.store.maintenance import (
    backup_sqlite,
    move_aside,
    pg_dump,
    pg_dump_command,
    pg_target,
    quick_check,
    sqlite_path,
)

Say = Callable[[str], None]
BACKUP_MANIFEST = "backup.json"
ROLES = ("monitor", "notify")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done as asked; the message says why, in Chinese."""


@dataclass(frozen=True)
class StoreUrls:
    monitor: str
    notify: str

    def of(self, role: str) -> str:
        return self.monitor if role == "monitor" else self.notify


def store_urls(directory: Path, db: str | None) -> StoreUrls:
    """--db, else the running monitor's, else the data directory's SQLite file."""
    rt = Runtime.read(directory)
    url = db or (rt.db if rt else default_db_url(directory))
    return StoreUrls(url, notify_db_url(directory, url))


# --- backup ----------------------------------------------------------------------------------


def backup(directory: Path, urls: StoreUrls, out: Path | None, say: Say) -> Path:
    target = out or directory / "backups" / now_suffix()
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"错误：备份目录已存在且不为空：{target}（请换一个 --out）")
    target.mkdir(parents=True, exist_ok=True)
    if sqlite_path(urls.monitor) is None:
        return _pg_backup(urls.monitor, target, say)
    described: dict[str, Any] = {}
    for role in ROLES:
        path = sqlite_path(urls.of(role))
        if path is None or not path.exists():
            if role == "monitor":
                raise StoreFault(Kind.MISSING, str(path), "nothing to back up")
            continue
        copy = target / path.name
        try:
            backup_sqlite(path, copy)
        except Exception as exc:
            raise fault_of(exc, str(path)) or exc from None
        described[role] = {"file": copy.name, **_describe(copy)}
    (target / BACKUP_MANIFEST).write_text(json.dumps({
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(directory), "stores": described,
    }, ensure_ascii=False, indent=2), "utf-8")  # fmt: skip
    m = described["monitor"]
    say(f"备份完成：{target}（存档 {m['archive']} 条、事件 {m['incidents']} 起、"
        f"审计 {m['audit']} 条）。请把它拷到另一块磁盘或另一台机器上。")  # fmt: skip
    return target


def _describe(path: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        ident = (conn.execute("select id from store_identity").fetchone()
                 if "store_identity" in names else None)  # fmt: skip
        counts = {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("archive", "incidents", "audit") if t in names
        }  # fmt: skip
    return {"id": ident[0] if ident else None, **counts}


def _pg_backup(url: str, target: Path, say: Say) -> Path:
    out = target / "monitor.pgdump"
    try:
        pg_dump(url, out)
    except FileNotFoundError:
        cmd = " ".join(pg_dump_command(pg_target(url), out))
        raise BackupError(
            "错误：存储在 PostgreSQL 上，而本机没有 pg_dump（apt-get install postgresql-client）。"
            f"装好后请运行：{cmd}"
        ) from None
    except subprocess.CalledProcessError as exc:
        first = (exc.stderr or "").strip().splitlines()[:1]
        raise BackupError(f"错误：pg_dump 失败：{first[0] if first else exc}") from None
    say(f"备份完成（pg_dump 自定义格式）：{out}。恢复：pg_restore --clean --if-exists "
        f"--dbname <URL> {out}。请把它拷到另一块磁盘或另一台机器上。")  # fmt: skip
    return target


# --- restore ---------------------------------------------------------------------------------


def restore(
    directory: Path, urls: StoreUrls, source: str | None, empty: bool, say: Say
) -> None:
    rt = Runtime.read(directory)
    if rt is not None:
        raise BackupError(f"错误：监测正在运行（pid {rt.pid}），请先停止再恢复：{directory}")
    if sqlite_path(urls.monitor) is None:
        raise BackupError(
            "错误：存储在 PostgreSQL 上，恢复请用 pg_restore --clean --if-exists --dbname <URL> "
            "<备份目录>/monitor.pgdump；数据库恢复后 monitor run 会核对它的身份。"
        )
    preflight(directory)
    if empty:
        _restore_empty(directory, urls, say)
    elif source and Path(source).is_dir():
        _restore_backup(directory, urls, Path(source), say)
    elif source:
        _rebuild(directory, urls, source, say)
    else:
        raise BackupError("错误：请给出 --from <备份目录、.db 文件或数据库 URL>，或 --empty")


def _restore_backup(directory: Path, urls: StoreUrls, source: Path, say: Say) -> None:
    try:
        described = json.loads((source / BACKUP_MANIFEST).read_text("utf-8"))["stores"]
    except (OSError, ValueError, KeyError) as exc:
        raise BackupError(f"错误：{source} 不是 monitor backup 做的备份（{exc}）") from None
    for entry in described.values():
        problems = quick_check(source / entry["file"])
        if problems:
            raise BackupError(f"错误：备份中的 {entry['file']} 已损坏：{problems[0]}")
    suffix = f"replaced-{now_suffix()}"
    for role, entry in described.items():
        target = sqlite_path(urls.of(role))
        assert target is not None
        sound = target.exists() and diagnose(directory, urls.of(role), role) is None
        if role == "notify" and sound:
            # the sound one knows every notification sent, including those after the backup
            say("通知库完好，保留现有的（它记得备份之后发出的通知，不会重发）")
            continue
        kept = move_aside(target, suffix)
        backup_sqlite(source / entry["file"], target)
        _remember_copy(directory, role, urls.of(role))
        if kept:
            say(f"原有文件已改名保留：{', '.join(p.name for p in kept)}")
    m = described["monitor"]
    say(f"已从备份恢复（{source}）：存档 {m.get('archive', 0)} 条、"
        f"事件 {m.get('incidents', 0)} 起。备份之后进入的帖子和处置不在其中，"
        "请从来源重新推送或补录。")  # fmt: skip


def _rebuild(directory: Path, urls: StoreUrls, source: str, say: Say) -> None:
    """A new store holding the archive and audit log of another one (a .db file or a URL);
    `monitor run` rebuilds the incidents from the archive when it starts."""
    src_url = source if "://" in source else f"sqlite:///{Path(source).resolve()}"
    path = sqlite_path(src_url)
    if path is not None and not path.exists():
        raise BackupError(f"错误：找不到 {source}")
    target = sqlite_path(urls.monitor)
    assert target is not None
    if path is not None and path.resolve() == target.resolve():
        raise BackupError("错误：--from 指向的就是要恢复的数据库本身")
    engine = sa.create_engine(src_url)
    try:
        if not sa.inspect(engine).has_table(tables.archive.name):
            raise BackupError(f"错误：{source} 里没有存档表（archive），无从重建")
        archive, audit = _read_archive(engine)
    except Exception as exc:
        raise fault_of(exc, source) or exc from None
    finally:
        engine.dispose()
    kept = move_aside(target, f"replaced-{now_suffix()}")
    store = Store(urls.monitor)
    try:
        with store.engine.begin() as conn:
            for table, rows in ((tables.archive, archive), (tables.audit, audit)):
                if rows:
                    conn.execute(table.insert(), rows)
        remember(directory, "monitor", mint_identity(store.engine, "monitor"), urls.monitor)
    finally:
        store.close()
    if kept:
        say(f"原有文件已改名保留：{', '.join(p.name for p in kept)}")
    say(f"已从 {source} 的存档重建：存档 {len(archive)} 条、审计 {len(audit)} 条；"
        "下次 monitor run 启动时重放存档，重建事件。")  # fmt: skip


def _read_archive(engine: sa.Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with engine.connect() as conn:
        archive = [dict(r._mapping) for r in
                   conn.execute(sa.select(tables.archive).order_by(tables.archive.c.seq))]
        if not sa.inspect(conn).has_table(tables.audit.name):
            return archive, []
        audit = [dict(r._mapping) for r in
                 conn.execute(sa.select(tables.audit).order_by(tables.audit.c.seq))]  # fmt: skip
    return archive, audit


def _restore_empty(directory: Path, urls: StoreUrls, say: Say) -> None:
    """Forget the stores that are missing, broken or not the data directory's own; keep the
    sound ones. Nothing is deleted: a broken file is renamed beside itself."""
    remembered = read_manifest(directory)
    suffix = f"replaced-{now_suffix()}"
    changed = False
    for role in ROLES:
        url = urls.of(role)
        if role == "notify" and url == urls.monitor:
            continue
        fault = diagnose(directory, url, role)
        if fault is None:
            continue
        changed = True
        path = sqlite_path(url)
        kept = move_aside(path, suffix) if path is not None else []
        if role in remembered:
            forget(directory, role)
        moved = f"，原文件改名为 {', '.join(p.name for p in kept)}" if kept else ""
        say(f"已放弃{'主数据库' if role == 'monitor' else '通知库'}（{fault.kind.value}）{moved}；"
            "下次 monitor run 以空库开始。")  # fmt: skip
    if not changed:
        say("数据库完好，无需处理。")


def _remember_copy(directory: Path, role: str, url: str) -> Identity:
    engine = sa.create_engine(url)
    try:
        ident = read_identity(engine) or mint_identity(engine, role)
    finally:
        engine.dispose()
    remember(directory, role, ident, url)
    return ident
