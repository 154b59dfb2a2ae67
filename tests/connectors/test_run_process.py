"""`monitor sources run` as a real process: kill -9 and restart neither loses nor repeats."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.connectors.conftest import FIXTURES, Reply, city_config

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def ids_in(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_kill_9_and_restart(http_server, tmp_path: Path) -> None:
    feed = http_server.route("/gov.xml", Reply(body=(FIXTURES / "gbk_feed.xml").read_bytes()))
    weibo = http_server.route("/getIndex", Reply(body=(FIXTURES / "weibo_forms.json").read_bytes()))
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"sources": [
        {"name": "gov", "type": "rss", "url": feed, "interval": 0.2},
        {"name": "wb", "type": "weibo", "url": weibo, "interval": 0.2, "long_text": "keep"},
    ]}), encoding="utf-8")  # fmt: skip
    # the city config, the one place that says so: the feed "gov" is 市应急管理局's own
    city = city_config(tmp_path, "[{department: 市应急管理局, feeds: [gov]}]")
    out = tmp_path / "posts.jsonl"
    port = free_port()
    cmd = [sys.executable, "-m", "monitor", "sources", "run", "--sources", str(sources),
           "--config", str(city), "--out", str(out),
           "--checkpoint", f"sqlite:///{tmp_path / 'cp.db'}", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: len(ids_in(out)) == 13), "first run did not deliver 13 posts"
        health = httpx.get(f"http://127.0.0.1:{port}/sources/health", timeout=5).json()
        assert {h["name"]: h["ok"] for h in health} == {"gov": True, "wb": True}
        polls_before = len(http_server.hits("/gov.xml"))
        assert wait_for(lambda: len(http_server.hits("/gov.xml")) > polls_before + 2)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    # The feed gains an item while the process is down.
    body = (
        (FIXTURES / "gbk_feed.xml")
        .read_bytes()
        .replace(
            "<item>".encode("gbk"),
            "<item><title>新增：雁江区停电通知</title><guid>new-1</guid><link>http://x/n</link></item><item>".encode(
                "gbk"
            ),
            1,
        )
    )
    http_server.route("/gov.xml", Reply(body=body))
    second = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: "rss:new-1" in ids_in(out)), "restart did not pick up the new item"
        polls = len(http_server.hits("/gov.xml"))
        assert wait_for(lambda: len(http_server.hits("/gov.xml")) > polls + 2)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) is not None
    ids = ids_in(out)
    assert len(ids) == 14 == len(set(ids))  # nothing lost, nothing repeated
    marks = {(r["source"], r.get("official", False), r.get("department")) for r in
             map(json.loads, out.read_text(encoding="utf-8").splitlines())}  # fmt: skip
    assert marks == {("gov", True, "市应急管理局"), ("wb", False, None)}
