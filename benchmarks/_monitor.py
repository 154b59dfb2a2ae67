"""A real `monitor run` for the benchmarks (and the flood test) to measure: embedded default,
a temporary data directory, `--no-demo`, one duty user whose token the load generators use."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from monitor.runtime.broker import free_port
from monitor.runtime.datadir import Runtime
from monitor.store import Store
from monitor.store.users import Accounts


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    base: str
    worker_metrics: str
    token: str
    broker: str
    data: Path

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; killed if it has not exited in a minute."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_monitor(data: Path) -> Running:
    data.mkdir(parents=True)
    store = Store(f"sqlite:///{data / 'monitor.db'}")
    token = Accounts(store).add("压测值班员", "duty", None, datetime.now(UTC))
    store.close()
    port, worker_port = free_port(), free_port()
    log = (data.parent / "run.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--port", str(port),
         "--worker-port", str(worker_port), "--no-demo"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"monitor run exited: see {data.parent / 'run.log'}")
        try:
            if httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}).is_success:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("monitor run did not start in 180 s")
        time.sleep(0.5)
    rt = Runtime.read(data)
    assert rt is not None
    return Running(proc, base, f"http://127.0.0.1:{worker_port}", token, rt.broker, data)


@contextlib.contextmanager
def running_monitor(prefix: str) -> Iterator[Running]:
    """`monitor run` on a fresh temporary directory (named `prefix`…), stopped on exit; its
    log is run.log beside the data directory. Removed after a clean exit, kept after an error
    so that the log an error message points to is still there."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    run = start_monitor(tmp / "data")
    try:
        yield run
    except BaseException:
        run.stop()
        print(f"kept {tmp} (data directory and run.log) for inspection", file=sys.stderr)
        raise
    run.stop()
    shutil.rmtree(tmp, ignore_errors=True)
