"""The data directory remembers its stores, so a lost or broken one stops the monitor instead of
being replaced by an empty one without a word.

`stores.json` in the data directory names each store's identity (monitor/store/identity.py),
written when `monitor run` first creates or adopts the store. At every start:
- the store's file is gone → refuse (it had state: nothing may be silently lost);
- the file is not a sound SQLite database → refuse;
- the database holds no identity, or another one → refuse (emptied, or swapped for another);
and each refusal names the ways out: restore a backup, rebuild from an archive that survives
elsewhere, or knowingly start empty (`monitor restore`). The old files are never deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from monitor.runtime.datadir import notify_db_url
from monitor.store import Store
from monitor.store.faults import Kind, StoreFault, fault_of
from monitor.store.identity import Identity, mint_identity, read_identity
from monitor.store.maintenance import checkpoint, quick_check, sqlite_path

MANIFEST = "stores.json"
PROBE_BYTES = 1 << 20  # a start needs at least this much room: a write probe, then removed
LOW_SPACE_BYTES = 200 << 20


@dataclass(frozen=True)
class Remembered:
    """What the data directory remembers of one store."""

    id: str
    created_at: str
    url: str  # password hidden; where the store was when last opened


def read_manifest(directory: Path) -> dict[str, Remembered]:
    path = directory / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
        return {role: Remembered(**entry) for role, entry in data["stores"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreFault(
            Kind.CORRUPT, str(path), f"unreadable manifest: {type(exc).__name__}: {exc}",
            note="这个文件记录数据目录里有哪些数据库；内容已无法读取。",
            way_out=[f"查看并修好 {path}（JSON），"
                     "或把它改名移走后再启动（数据库身份从此重新记起）"],
        ) from None  # fmt: skip


def remember(directory: Path, role: str, identity: Identity, url: str) -> None:
    entries = read_manifest(directory)
    entries[role] = Remembered(identity.id, identity.created_at, _shown(url))
    body = {
        "about": "the stores this data directory holds; see monitor/runtime/guard.py",
        "stores": {r: asdict(e) for r, e in sorted(entries.items())},
    }
    _write_atomic(directory / MANIFEST, json.dumps(body, ensure_ascii=False, indent=2))


def forget(directory: Path, role: str) -> None:
    entries = read_manifest(directory)
    if entries.pop(role, None) is None:
        return
    body = {"stores": {r: asdict(e) for r, e in sorted(entries.items())}}
    _write_atomic(directory / MANIFEST, json.dumps(body, ensure_ascii=False, indent=2))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _shown(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _place(url: str) -> str:
    """Where a store is, as the operator would look for it: the file, or the URL."""
    path = sqlite_path(url)
    return str(path) if path is not None else _shown(url)


# --- before anything is written --------------------------------------------------------------


def preflight(directory: Path, warn: Callable[[str], None] | None = None) -> None:
    """Fail now, in one line, if the data directory cannot be written (read-only, full, no
    permission), rather than halfway through a start. A real write, fsynced: on a full disk
    the write itself fails."""
    probe = directory / ".write-probe"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * PROBE_BYTES)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        fault = fault_of(exc)
        if fault is None:
            raise
        fault.where = str(directory)  # the directory is what the operator must fix
        raise fault from None
    finally:
        with contextlib.suppress(OSError):  # read-only: the probe was never created
            probe.unlink(missing_ok=True)
    free = shutil.disk_usage(directory).free
    if warn is not None and free < LOW_SPACE_BYTES:
        warn(f"警告：数据目录所在磁盘只剩 {free >> 20} MB：{directory}")


# --- opening a remembered store --------------------------------------------------------------


def open_store(directory: Path, url: str, *, start: bool = False) -> Store:
    """The monitor's store, checked against what the data directory remembers.

    `start` (only `monitor run`): also check the file's structure, and give a store the data
    directory does not know yet its identity. Other commands only read and refuse the same
    way."""
    kept = read_manifest(directory).get("monitor")
    _check_file(directory, url, "monitor", kept, deep=start)
    try:
        store = Store(url)
    except Exception as exc:
        raise _opening_fault(exc, directory, url, "monitor", kept) from None
    try:
        _check_identity(directory, store.engine, url, "monitor", kept, adopt=start)
    except BaseException:
        store.close()
        raise
    return store


def check_store(directory: Path, url: str, role: str, *, start: bool = False) -> None:
    """The same checks for a store someone else opens (the notifier's outbox)."""
    kept = read_manifest(directory).get(role)
    _check_file(directory, url, role, kept, deep=start)
    _check_identity_at(directory, url, role, kept, adopt=start)


def diagnose(directory: Path, url: str, role: str) -> StoreFault | None:
    """What is wrong with a store (missing, corrupt, not this directory's), or None if sound
    or simply not made yet."""
    kept = read_manifest(directory).get(role)
    path = sqlite_path(url)
    try:
        _check_file(directory, url, role, kept, deep=True)
        if path is not None and not path.exists():
            return None
        _check_identity_at(directory, url, role, kept, adopt=False)
    except StoreFault as fault:
        return fault
    return None


def _check_identity_at(
    directory: Path, url: str, role: str, kept: Remembered | None, *, adopt: bool
) -> None:
    """`_check_identity` on an engine of its own; a database that will not open is a fault."""
    engine = sa.create_engine(url)
    try:
        _check_identity(directory, engine, url, role, kept, adopt=adopt)
    except StoreFault:
        raise
    except Exception as exc:
        raise _opening_fault(exc, directory, url, role, kept) from None
    finally:
        engine.dispose()


def _check_file(
    directory: Path, url: str, role: str, kept: Remembered | None, deep: bool
) -> None:
    path = sqlite_path(url)
    if path is None:
        return
    if not path.exists():
        if kept is not None:
            detail = f"store {role} {kept.id} (created {kept.created_at}) is missing"
            raise _refusal(Kind.MISSING, directory, str(path), role, kept, detail)
        return
    if not deep:
        return
    try:
        problems = quick_check(path)
    except Exception as exc:
        raise _opening_fault(exc, directory, url, role, kept) from None
    if problems:
        raise _refusal(Kind.CORRUPT, directory, str(path), role, kept,
                       f"integrity check: {'; '.join(problems[:3])}")  # fmt: skip


def _check_identity(
    directory: Path, engine: sa.Engine, url: str, role: str, kept: Remembered | None,
    adopt: bool,
) -> None:  # fmt: skip
    found = read_identity(engine)
    if kept is None:
        if adopt:
            remember(directory, role, found or mint_identity(engine, role), url)
        return
    if found is None:
        raise _refusal(Kind.REPLACED, directory, _place(url), role, kept,
                       f"store has no identity; expected {role} {kept.id}")  # fmt: skip
    if found.id != kept.id:
        raise _refusal(Kind.REPLACED, directory, _place(url), role, kept,
                       f"store is {found.role} {found.id}; expected {role} {kept.id}")  # fmt: skip
    if adopt and kept.url != _shown(url):
        remember(directory, role, found, url)  # the same store, moved: remember where


def _opening_fault(
    exc: BaseException, directory: Path, url: str, role: str, kept: Remembered | None
) -> BaseException:
    fault = fault_of(exc, _place(url))
    if fault is None:
        return exc
    if fault.kind is Kind.CORRUPT:
        return _refusal(Kind.CORRUPT, directory, fault.where, role, kept, fault.detail)
    return fault


def _refusal(
    kind: Kind, directory: Path, where: str, role: str, kept: Remembered | None, detail: str
) -> StoreFault:
    what = "事件、处置记录和存档" if role == "monitor" else "已发通知的记录（丢失会重发旧通知）"
    if kept is not None:
        note = (f"该数据目录记得这个数据库（标识 {kept.id[:12]}，建于 {kept.created_at}），"
                f"里面是{what}。为免悄悄换成空库、丢掉数据，监测拒绝使用它。")  # fmt: skip
    else:
        note = f"里面是{what}。为免悄悄换成空库、丢掉数据，监测拒绝使用它。"
    d = str(directory)
    ways = [
        f"从备份恢复：monitor restore --data-dir {d} --from <备份目录>"
        "（备份由 monitor backup 制作）",
        f"存档若在别处尚存（PostgreSQL、另一份 .db 文件）：monitor restore --data-dir {d} "
        "--from <数据库 URL 或 .db 文件>，启动时由存档重建事件",
        f"确认不要旧数据：monitor restore --data-dir {d} --empty"
        "（坏的或不认识的文件改名留在原处，不删除）",
    ]
    if kind is Kind.CORRUPT:
        ways.insert(1, f"抢救损坏的文件：sqlite3 {where} .recover | sqlite3 recovered.db，"
                       f"再 monitor restore --data-dir {d} --from recovered.db")  # fmt: skip
    if role != "monitor":
        ways = [ways[0], ways[-1] + "；通知库为空时，重放会把旧通知再发一遍"
                "（未配 --channels 时只记录不发）"]
    return StoreFault(kind, where, detail, way_out=ways, note=note)


def now_suffix() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- `monitor run`: start and stop -----------------------------------------------------------


def open_stores(directory: Path, db: str, say: Callable[[str], None]) -> Store:
    """Before `monitor run` writes anything: the data directory writable with room to spare,
    and each store sound and the directory's own. Returns the monitor's store."""
    preflight(directory, say)
    store = open_store(directory, db, start=True)
    notify = notify_db_url(directory, db)
    try:
        if notify != db:
            check_store(directory, notify, "notify", start=True)
    except BaseException:
        store.close()
        raise
    return store


def close_stores(directory: Path, db: str, say: Callable[[str], None]) -> None:
    """After a clean stop: fold the WAL into each SQLite file, so the file alone holds
    everything (a copy of monitor.db without its -wal held nothing before this)."""
    for url in dict.fromkeys((db, notify_db_url(directory, db))):
        path = sqlite_path(url)
        if path is None:
            continue
        try:
            if not checkpoint(path):
                say(f"警告：{path} 的 WAL 仍被占用，未能全部并入（下次正常停止时再并）")
        except Exception as exc:
            say(f"警告：未能把 WAL 并入数据库：{path}（{type(exc).__name__}: {exc}）")
