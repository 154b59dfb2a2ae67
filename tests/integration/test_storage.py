"""Storage the operator can trust: a lost, corrupt or swapped store refuses to start and names
the way out; a read-only or full disk is one line; a backup taken while writes go on restores
to a consistent store; a clean stop leaves monitor.db whole without its WAL.

Read-only and full disks are real: a read-only bind mount and a small tmpfs, each in a mount
namespace of its own (`unshare -m`, needs root), so nothing leaks to the machine."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.runtime.broker import free_port
from monitor.runtime.guard import open_store, open_stores
from monitor.store import Store, sqlite_url
from monitor.store.faults import Kind, StoreFault
from monitor.store.maintenance import checkpoint, quick_check
from tests.conftest import skip_or_fail
from tests.integration.helpers import wait_for


def monitor(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def one_line_error(out: subprocess.CompletedProcess[str], words: str) -> None:
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：") and words in lines[0], out.stderr


def refusal(out: subprocess.CompletedProcess[str], words: str) -> None:
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("错误：") and words in out.stderr, out.stderr
    assert "monitor restore" in out.stderr and "出路" in out.stderr


def data_dir_with_state(directory: Path, posts: int = 5, body_bytes: int = 40) -> Path:
    """A data directory as `monitor run` leaves it: its store remembered, some posts archived."""
    directory.mkdir(parents=True, exist_ok=True)
    db = sqlite_url(directory / "monitor.db")
    store = open_stores(directory, db, lambda _: None)
    pad = "x" * body_bytes
    store.archive_many(
        [("post", f"p{i}", json.dumps({"id": f"p{i}", "pad": pad}).encode(), None)
         for i in range(posts)]
    )  # fmt: skip
    store.close()
    checkpoint(directory / "monitor.db")
    return directory / "monitor.db"


# --- the whole story with `monitor run` -------------------------------------------------------


@pytest.mark.broker
@pytest.mark.slow
def test_clean_stop_backup_lost_store_refused_and_restored(tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    run = _start(data, port, demo=True)
    try:
        wait_for(lambda: (data / "runtime.json").exists(), 60, "runtime.json", [run])
        wait_for(lambda: len(_incident_ids(data)) == 3, 60, "the demo's 3 incidents", [run])
        before = _incident_ids(data)
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0
    # a clean stop folded the WAL in: monitor.db alone holds everything
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(data / "monitor.db", alone / "monitor.db")
    with sqlite3.connect(alone / "monitor.db") as conn:
        assert {r[0] for r in conn.execute("select id from incidents")} == before
        assert conn.execute("select count(*) from archive").fetchone()[0] >= 6
    backup = tmp_path / "backup"
    made = monitor("backup", "--data-dir", str(data), "--out", str(backup))
    assert made.returncode == 0, made.stderr
    assert "备份完成" in made.stdout and quick_check(backup / "monitor.db") == []

    for p in data.glob("monitor.db*"):
        p.unlink()
    refusal(monitor("run", "--data-dir", str(data), "--no-demo", "--port", str(port)),
            "数据库不见了")  # fmt: skip
    refusal(monitor("incidents", "--data-dir", str(data)), "数据库不见了")
    assert not (data / "monitor.db").exists(), "a refused command must not create an empty store"

    restored = monitor("restore", "--data-dir", str(data), "--from", str(backup))
    assert restored.returncode == 0, restored.stderr
    run = _start(data, port, demo=False)
    try:
        wait_for(lambda: (data / "runtime.json").exists(), 60, "runtime.json after restore", [run])
        assert _incident_ids(data) == before
    finally:
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0


def _start(data: Path, port: int, demo: bool) -> subprocess.Popen[bytes]:
    log = open(data.parent / "run.log", "ab")  # noqa: SIM115  (kept open for the child)
    cmd = [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--port", str(port),
           "--worker-port", str(free_port())]
    return subprocess.Popen([*cmd, *([] if demo else ["--no-demo"])], stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip


def _incident_ids(data: Path) -> set[str]:
    out = monitor("incidents", "--data-dir", str(data), "--json")
    assert out.returncode == 0, out.stderr
    return {r["id"] for r in json.loads(out.stdout)}


# --- corrupt, emptied, swapped ----------------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database " * 400)


def _damaged_page(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        (root,) = conn.execute("select rootpage from sqlite_master where name='archive'").fetchone()
        (size,) = conn.execute("pragma page_size").fetchone()
    with open(path, "r+b") as fh:
        fh.seek((root - 1) * size)
        fh.write(b"\xff" * 64)  # the b-tree page header of the archive table


@pytest.mark.parametrize("damage", [_garbage, _damaged_page], ids=["not-a-database", "bad-page"])
def test_corrupt_store_refuses_then_empty_starts_afresh_keeping_the_file(
    tmp_path: Path, damage: object
) -> None:
    data = tmp_path / "data"
    db = data_dir_with_state(data)
    damage(db)  # type: ignore[operator]
    refusal(monitor("run", "--data-dir", str(data), "--no-demo"), "数据库文件已损坏")

    out = monitor("restore", "--data-dir", str(data), "--empty")
    assert out.returncode == 0, out.stderr
    assert len(list(data.glob("monitor.db.replaced-*"))) == 1, "the damaged file is kept"
    store = open_stores(data, sqlite_url(db), lambda _: None)  # the next start is allowed
    assert list(store.archived()) == []
    store.close()


def test_emptied_or_swapped_store_is_not_taken_for_the_old_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data_dir_with_state(data)
    for p in data.glob("monitor.db*"):
        p.unlink()
    Store(sqlite_url(db)).close()  # an empty store where the old one was
    with pytest.raises(StoreFault) as empty:
        open_store(data, sqlite_url(db), start=True)
    assert empty.value.kind is Kind.REPLACED

    other = data_dir_with_state(tmp_path / "other")
    shutil.copy(other, db)  # another data directory's store
    with pytest.raises(StoreFault) as swapped:
        open_store(data, sqlite_url(db), start=True)
    assert swapped.value.kind is Kind.REPLACED and "expected monitor" in swapped.value.detail


@pytest.fixture
def own_pg(pg_url: str) -> Iterator[str]:
    """A schema of this test's own (it drops tables): the session's pg_url proves PostgreSQL
    is there, and its base URL is reused."""
    base = pg_url.split("?", 1)[0]
    schema = f"st_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


def test_postgres_store_emptied_is_refused(tmp_path: Path, own_pg: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = open_store(data, own_pg, start=True)
    store.archive("post", "p1", b"{}")
    with store.engine.begin() as conn:  # someone dropped the tables
        for name in sa.inspect(conn).get_table_names():
            conn.execute(sa.text(f'drop table "{name}" cascade'))
    store.close()
    with pytest.raises(StoreFault) as refused:
        open_store(data, own_pg, start=True)
    assert refused.value.kind is Kind.REPLACED


# --- read-only and full disks -----------------------------------------------------------------


def private_mount(setup: str, *command: str) -> subprocess.CompletedProcess[str]:
    """`command` after the shell `setup`, in a mount namespace of its own."""
    if shutil.which("unshare") is None:
        skip_or_fail("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip_or_fail(f"no private mount namespace (needs root): {probe.stderr.strip()}")
    return subprocess.run(["unshare", "-m", "sh", "-c", f'{setup} && exec "$@"', "sh", *command],
                          capture_output=True, text=True, timeout=240)  # fmt: skip


def test_read_only_data_dir_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data_dir_with_state(data)
    ro = f"mount --bind {data} {data} && mount -o remount,bind,ro {data}"
    m = [sys.executable, "-m", "monitor"]
    one_line_error(private_mount(ro, *m, "run", "--data-dir", str(data), "--no-demo"), "只读")
    one_line_error(private_mount(ro, *m, "backup", "--data-dir", str(data)), "只读")
    # SQLite cannot open a WAL database on read-only media without its -shm file: said in
    # one line too
    one_line_error(private_mount(ro, *m, "incidents", "--data-dir", str(data)), "无法打开")


def test_full_disk_is_one_line(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    source = data_dir_with_state(tmp_path / "source", posts=2000, body_bytes=2000)  # ~5 MB
    m = [sys.executable, "-m", "monitor"]
    tmpfs = f"mount -t tmpfs -o size=4m tmpfs {full}"
    # no room at all: the start-up probe fails
    filled = f"{tmpfs} && (dd if=/dev/zero of={full}/filler bs=64k 2>/dev/null || true)"
    one_line_error(private_mount(filled, *m, "run", "--data-dir", str(full)), "磁盘已满")
    # room for the probe, not for the rebuilt store: SQLite's own write fails
    some = f"{tmpfs} && dd if=/dev/zero of={full}/filler bs=1M count=2 2>/dev/null"
    one_line_error(
        private_mount(some, *m, "restore", "--data-dir", str(full), "--from", str(source)),
        "磁盘已满",
    )


FILL_WHILE_RUNNING = """
import asyncio, json, subprocess, sys, time
from datetime import UTC, datetime
from pathlib import Path
from monitor.runtime.broker import free_port
from monitor.runtime.producer import send_all

data = Path(sys.argv[1])
run = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--data-dir", str(data),
                        "--no-demo", "--port", str(free_port()), "--worker-port", str(free_port())],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
deadline = time.monotonic() + 90
while not (data / "runtime.json").exists() and run.poll() is None and time.monotonic() < deadline:
    time.sleep(0.1)
broker = json.loads((data / "runtime.json").read_text())["broker"]
with open(data / "filler", "wb") as fh:  # the disk fills up while the monitor runs
    try:
        while True:
            fh.write(b"\\0" * 65536)
            fh.flush()
    except OSError:
        pass
now = datetime.now(UTC).isoformat()
posts = [json.dumps({"id": f"f{i}", "text": "雁江区一化工厂发生爆炸，3人死亡。" + "现场" * 300,
                     "published_at": now, "observed_at": now}, ensure_ascii=False).encode()
         for i in range(3000)]
try:
    asyncio.run(asyncio.wait_for(
        send_all(broker, "posts.raw", ((f"f{i}".encode(), p) for i, p in enumerate(posts))), 40))
except Exception:
    pass  # the full disk stopped the monitor (and its broker) before the posts: still tested
try:
    out, _ = run.communicate(timeout=90)
except subprocess.TimeoutExpired:
    run.kill()
    out, _ = run.communicate()
print(json.dumps({"rc": run.returncode, "out": out}))
"""


def test_disk_filling_up_while_running_stops_in_one_line(tmp_path: Path) -> None:
    """The disk fills once the monitor has written runtime.json: wherever its start or its run
    then meets the full disk (most often before the posts, when its broker goes too), or when it
    cannot archive what reaches posts.raw, it stops at once with one line (going on would apply
    posts the archive does not keep). A start stopped that way used to crash the sender here."""
    full = tmp_path / "full"
    full.mkdir()
    done = private_mount(f"mount -t tmpfs -o size=16m tmpfs {full}",
                         sys.executable, "-c", FILL_WHILE_RUNNING, str(full))  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rc"] == 3, result["out"]
    assert "Traceback" not in result["out"]
    errors = [ln for ln in result["out"].splitlines() if ln.startswith("错误：")]
    assert len(errors) == 1 and "磁盘已满" in errors[0], result["out"]


# --- a backup while writes go on --------------------------------------------------------------

WRITER = """
import json, sys, time
from pathlib import Path
from monitor.store import Store
store, stop, count = Store(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
n = 0
while not stop.exists():
    with store.engine.begin() as conn:  # an archive row and its audit row: one transaction
        from monitor.store import schema
        conn.execute(schema.archive.insert().values(kind="post", id=f"w{n}", body="{}",
                                                    accepted_at="t"))
        conn.execute(schema.audit.insert().values(at="t", who="writer", what=f"w{n}",
                                                  detail="{}"))
    n += 1
    tmp = count.with_suffix(".tmp")
    tmp.write_text(str(n))
    tmp.replace(count)  # the test reads it: never half a number
store.close()
"""


def test_backup_while_writes_continue_restores_to_a_consistent_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data_dir_with_state(data, posts=20_000, body_bytes=1000)  # ~25 MB: the copy takes time
    stop, count = tmp_path / "stop", tmp_path / "count"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, sqlite_url(db), str(stop), str(count)])
    try:
        wait_for(lambda: count.exists() and int(count.read_text()) > 50, 60, "writes",
                 [writer])  # type: ignore[list-item]  # fmt: skip
        during = int(count.read_text())
        made = monitor("backup", "--data-dir", str(data), "--out", str(tmp_path / "b"))
        assert made.returncode == 0, made.stderr
        after = int(count.read_text())
        assert after > during, "the writer must have gone on writing while the backup ran"
    finally:
        stop.touch()
        writer.wait(30)
    copy = tmp_path / "b" / "monitor.db"
    assert quick_check(copy) == []
    with sqlite3.connect(copy) as conn:
        seqs = [r[0] for r in conn.execute("select seq from archive order by seq")]
        written = {r[0] for r in conn.execute("select id from archive where id like 'w%'")}
        audited = {r[0] for r in conn.execute("select what from audit where who='writer'")}
    assert seqs == list(range(1, len(seqs) + 1)), "a consistent snapshot has no holes"
    assert written == audited and len(written) > 0, "each transaction is in whole or not at all"
    restored = monitor("restore", "--data-dir", str(tmp_path / "new"), "--from",
                       str(tmp_path / "b"))  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    store = open_store(tmp_path / "new", sqlite_url(tmp_path / "new" / "monitor.db"), start=True)
    assert len(list(store.archived())) == len(seqs)
    store.close()


def test_postgres_backup_runs_pg_dump(tmp_path: Path, own_pg: str) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        skip_or_fail("pg_dump/pg_restore not installed (postgresql-client)")
    store = Store(own_pg)
    store.archive("post", "p1", b"{}")
    store.close()
    made = monitor("backup", "--data-dir", str(tmp_path / "d"), "--db", own_pg,
                   "--out", str(tmp_path / "b"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    listing = subprocess.run(["pg_restore", "--list", str(tmp_path / "b" / "monitor.pgdump")],
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert " TABLE " in listing.stdout and " archive " in listing.stdout
