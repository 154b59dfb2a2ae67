"""The connector and `monitor run` in any order, as real processes: the connector started
first waits; each kill -9 and restart of the monitor (a new broker port each time) is followed;
a push is never answered 503 for a post it archived; SIGTERM stops the connector within 10 s
even with a push stuck on a frozen broker, and what was accepted reaches the monitor later."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from connectors.push import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from monitor.runtime.broker import free_port
from tests.connectors.conftest import Reply
from tests.integration.helpers import BLAST, FIRE, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SECRET = "hotline-secret"


def rss(items: list[tuple[str, str]]) -> bytes:
    when = format_datetime(datetime.now(UTC))
    body = "".join(
        f"<item><title>{text}</title><guid>{guid}</guid><link>http://x/{guid}</link>"
        f"<pubDate>{when}</pubDate></item>"
        for guid, text in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>gov'
            f"</title>{body}</channel></rss>").encode()  # fmt: skip


def push(port: int, pid: str, text: str) -> httpx.Response:
    body = json.dumps({"id": pid, "text": text, "published_at": datetime.now(UTC).isoformat()},
                      ensure_ascii=False).encode()  # fmt: skip
    stamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
    return httpx.post(f"http://127.0.0.1:{port}/push/hotline", content=body, headers=headers,
                      timeout=60)  # fmt: skip


def rows(db: Path, kind: str) -> set[str]:
    """Archive ids of a kind: "post" once the connector accepted it, "input" once the monitor's
    incident agent applied it (it came through the broker)."""
    if not db.exists():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return {r[0] for r in conn.execute("select id from archive where kind = ?", (kind,))}


def unsent(cp: Path) -> set[str]:
    with sqlite3.connect(cp, timeout=30) as conn:
        return {r[0] for r in conn.execute("select post_id from connector_unsent")}


def runtime(data: Path) -> dict[str, object]:
    try:
        return dict(json.loads((data / "runtime.json").read_text()))
    except (OSError, ValueError):
        return {}


def broker_pid(run: subprocess.Popen[bytes]) -> int:
    children = Path(f"/proc/{run.pid}/task/{run.pid}/children").read_text().split()
    for child in children:
        if "tansu" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
            return int(child)
    raise AssertionError(f"no tansu child of {run.pid}: {children}")


class Processes:
    def __init__(self, tmp: Path, sources: Path, data: Path, port: int, web: int) -> None:
        self.tmp, self.sources, self.data, self.port, self.web = tmp, sources, data, port, web
        self.env = {**os.environ, "HOTLINE_SECRET": SECRET}
        self.log = open(tmp / "processes.log", "ab")  # noqa: SIM115  (closed in close())
        self.started: list[subprocess.Popen[bytes]] = []

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], env=self.env,
                                stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        self.started.append(proc)
        return proc

    def connector(self) -> subprocess.Popen[bytes]:
        return self._spawn("sources", "run", "--sources", str(self.sources), "--data-dir",
                           str(self.data), "--port", str(self.port), "--checkpoint",
                           f"sqlite:///{self.tmp / 'cp.db'}")  # fmt: skip

    def monitor(self) -> subprocess.Popen[bytes]:
        run = self._spawn("run", "--data-dir", str(self.data), "--port", str(self.web),
                          "--worker-port", str(free_port()), "--no-demo", "--tick", "0.5")  # fmt: skip
        wait_for(lambda: runtime(self.data).get("pid") == run.pid, 60, "monitor up", [run])
        return run

    def close(self) -> None:
        for p in self.started:
            if p.poll() is None:
                p.kill()
                p.wait(30)
        self.log.close()


def test_connector_follows_the_monitor_and_stops_on_sigterm(tmp_path: Path, http_server) -> None:
    data, cp = tmp_path / "data", tmp_path / "cp.db"
    db = data / "monitor.db"
    feed = [("g1", "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。")]
    http_server.route("/feed.xml", lambda _s: Reply(body=rss(feed)))
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"sources": [
        {"name": "hotline", "type": "push", "secret_env": "HOTLINE_SECRET"},
        {"name": "gov", "type": "rss", "url": http_server.url("/feed.xml"), "interval": 0.5},
    ]}), "utf-8")  # fmt: skip
    port = free_port()
    procs = Processes(tmp_path, sources, data, port, free_port())
    try:
        # 1. the connector first: nothing can take posts, so nothing is accepted or read
        conn = procs.connector()
        wait_for(lambda: _answers(port), 60, "push endpoint", [conn])
        early = push(port, "p0", BLAST)
        assert early.status_code == 503 and "MonitorDown" in early.text
        assert http_server.hits("/feed.xml") == []

        # 2. the monitor starts: both sources flow into it
        run = procs.monitor()
        assert push(port, "p1", BLAST).status_code == 202
        wait_for(lambda: {"post:push:hotline:p1", "post:rss:g1"} <= rows(db, "input"), 60,
                 "p1 and the feed item applied", [conn, run])  # fmt: skip

        # 3. kill -9, restart on a new broker port: followed at once
        first_broker = runtime(data)["broker"]
        run.kill()
        run.wait(30)
        run = procs.monitor()
        assert runtime(data)["broker"] != first_broker
        answer = push(port, "p2", BLAST)
        assert answer.status_code == 202, answer.text  # was: 40 s, then 503
        feed.append(("g2", FIRE))
        wait_for(lambda: {"post:push:hotline:p2", "post:rss:g2"} <= rows(db, "input"), 60,
                 "p2 and the new feed item applied after the restart", [conn, run])  # fmt: skip

        # 4. the broker freezes with a push in flight; SIGTERM still stops the connector
        frozen = broker_pid(run)
        os.kill(frozen, signal.SIGSTOP)
        answers: list[httpx.Response] = []
        pusher = threading.Thread(target=lambda: answers.append(push(port, "p3", BLAST)))
        pusher.start()
        wait_for(lambda: "push:hotline:p3" in rows(db, "post"), 30, "p3 archived", [conn])
        conn.send_signal(signal.SIGTERM)
        assert conn.wait(10) is not None  # the brief: stopped within 10 s of SIGTERM
        pusher.join(30)
        assert [a.status_code for a in answers] == [202], [a.text for a in answers]
        assert unsent(cp) == {"push:hotline:p3"}, "accepted, kept to send later"

        # 5. the broker thaws, the connector comes back: what it accepted reaches the monitor
        os.kill(frozen, signal.SIGCONT)
        conn = procs.connector()
        wait_for(lambda: "post:push:hotline:p3" in rows(db, "input"), 90, "p3 applied",
                 [conn, run])  # fmt: skip
        wait_for(lambda: unsent(cp) == set(), 30, "nothing left unsent", [conn])
        conn.send_signal(signal.SIGTERM)
        assert conn.wait(10) == 0
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0
    finally:
        procs.close()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/sources/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
