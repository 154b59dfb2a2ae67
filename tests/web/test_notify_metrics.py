"""`monitor notify run --port N --host H` serves the notifier's metrics for Prometheus."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_notify_run_serves_metrics(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "monitor", "notify", "run", "--db",
           f"sqlite:///{tmp_path / 'n.db'}", "--dry-run", "--interval", "0.2",
           "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        text = ""
        for _ in range(100):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                if "yuqing_notify_outbox" in text:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.2)
        assert "yuqing_notify_bad_input_total" in text or "yuqing_notify_bad_input" in text
        assert "yuqing_notify_outbox" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
