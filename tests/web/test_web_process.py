"""`monitor web` apart from the pipeline: the dashboard answers while the worker's loop is
frozen, comes back when it dies, and stops (or dies) with `monitor run`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from monitor.runtime.broker import free_port
from monitor.testing import web_child

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def answers(base: str, token: str, timeout: float = 2.0) -> bool:
    try:
        r = httpx.get(f"{base}/api/incidents", timeout=timeout,
                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    except httpx.TransportError:
        return False
    return r.status_code == 200


def start(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--port", str(port),
         "--worker-port", str(free_port()), "--tick", "0.5"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip


def test_web_process_outlives_a_frozen_worker_restarts_and_stops_with_run(
    tmp_path: Path,
) -> None:
    data, log = tmp_path / "data", tmp_path / "run.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = start(data, port, log)
    try:
        wait(lambda: "token=" in log.read_text("utf-8"), 60, "the printed token")
        token = re.search(r"\?token=([\w-]+)", log.read_text("utf-8")).group(1)  # type: ignore[union-attr]
        wait(lambda: answers(base, token), 60, "the API")
        first = web_child(run.pid)
        assert first is not None, "the dashboard runs in a child process of `monitor run`"

        # a worker whose loop cannot run (here: stopped) no longer delays a read
        os.kill(run.pid, signal.SIGSTOP)
        try:
            assert answers(base, token, timeout=5), "a read waited on the worker"
        finally:
            os.kill(run.pid, signal.SIGCONT)

        os.kill(first, signal.SIGKILL)
        wait(lambda: web_child(run.pid) not in (None, first) and answers(base, token), 60,
             "the web process restarted")  # fmt: skip
        second = web_child(run.pid)
        assert second is not None and "已退出" in log.read_text("utf-8")

        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        wait(lambda: not alive(second), 10, "the web process to stop with `monitor run`")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()

    again = start(data, port, log)
    try:
        wait(lambda: answers(base, token), 60, "the API after a restart")
        child = web_child(again.pid)
        assert child is not None
        again.send_signal(signal.SIGKILL)
        again.wait()
        wait(lambda: not alive(child), 10, "the web process to die with a killed `monitor run`")
    finally:
        if again.poll() is None:
            again.kill()
            again.wait()
