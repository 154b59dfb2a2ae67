"""`monitor run` as a newcomer starts it: the printed dashboard URL and admin token work, the
demo incidents' notifications are recorded by the dry-run channel, an answer posted to the API
reaches the worker, and after SIGKILL and restart no notification is sent a second time."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from monitor.runtime.broker import free_port
from monitor.testing import wait_for
from tests.integration.helpers import bridge_caught_up, metrics_value, outbox_settled

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def start(data: Path, port: int, log: Path, worker_port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--port", str(port),
         "--worker-port", str(worker_port), "--tick", "0.5"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip


def sent_keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["key"] for line in path.read_text("utf-8").splitlines() if line]


def test_newcomer_run_answers_and_restart_sends_nothing_twice(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "run.log"
    port, worker_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    worker = f"http://127.0.0.1:{worker_port}"
    dry = data / "notifications-dry-run.jsonl"
    run = start(data, port, log, worker_port)
    try:
        wait_for(lambda: "token=" in log.read_text("utf-8"), 60, "the printed token", [run])
        token = re.search(r"\?token=([\w-]+)", log.read_text("utf-8")).group(1)  # type: ignore[union-attr]
        headers = {"Authorization": f"Bearer {token}"}

        def incidents() -> list[dict[str, object]]:
            try:
                return httpx.get(f"{base}/api/incidents", headers=headers, timeout=2).json()  # type: ignore[no-any-return]
            except httpx.TransportError:
                return []

        wait_for(lambda: len(incidents()) >= 2, 60, "demo incidents in the API", [run])
        wait_for(lambda: len(sent_keys(dry)) > 0, 60, "dry-run notifications", [run])
        target = next(r for r in incidents() if r["state"] == "open")
        resp = httpx.post(f"{base}/api/incidents/{target['id']}/actions", headers=headers,
                          json={"id": "ack-embedded", "kind": "acknowledge"}, timeout=10)  # fmt: skip
        assert resp.status_code == 200, resp.text

        def acknowledged() -> bool:
            d = httpx.get(f"{base}/api/incidents/{target['id']}", headers=headers, timeout=2)
            return any(a["id"] == "ack-embedded" for a in d.json()["actions"])

        wait_for(acknowledged, 30, "the worker applied the answer", [run])
        wait_for(lambda: _delivered(data), 30, "the notifier to send what is due", [run])
        before = sent_keys(dry)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()

    again = start(data, port, log, worker_port)
    try:
        # the archive is replayed and the worker emits the same intents again: they must not
        # be sent again; the answer is kept
        wait_for(lambda: "ack-embedded" in json.dumps(
            httpx.get(f"{base}/api/incidents/{target['id']}", headers=headers, timeout=2).json()
        ) if _up(base) else False, 60, "state rebuilt after restart", [again])  # fmt: skip
        # the restarted worker did emit intents again (else this test would prove nothing)
        wait_for(lambda: metrics_value(worker, "monitor_notifications_total") > 0, 30,
                 "intents emitted again", [again])  # fmt: skip
        wait_for(lambda: _delivered(data), 60, "the notifier to take every intent in", [again])
        after = sent_keys(dry)
    finally:
        again.send_signal(signal.SIGINT)
        again.wait(timeout=30)
    assert after[: len(before)] == before
    twice = [k for k, n in Counter(after).items() if n > 1]
    assert not twice, f"sent twice after restart: {twice}"


def _delivered(data: Path) -> bool:
    """The bridge took every intent on the topic into the outbox, and nothing due is unsent."""
    broker = json.loads((data / "runtime.json").read_text())["broker"]
    return bridge_caught_up(broker) and outbox_settled(data / "notify.db")


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/metrics", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
