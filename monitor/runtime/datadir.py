"""The data directory: where `monitor run` keeps its database and tells other commands how to
reach it (runtime.json: broker, web port, pid)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from monitor.domain.policy import FUTURE_SKEW_S

ENV = "MONITOR_DATA_DIR"
RUNTIME_FILE = "runtime.json"
LOCALHOST_WEB = "127.0.0.1"
WEB_PORT = 8600  # `monitor web`: dashboard, API, its /metrics
WORKER_METRICS_PORT = 8603  # `monitor run`'s worker: /metrics (8601, 8602: sources, notifier)


def data_dir(given: str | None) -> Path:
    """--data-dir, else $MONITOR_DATA_DIR, else ./monitor-data. Created if missing."""
    path = Path(given or os.environ.get(ENV) or "monitor-data").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'monitor.db'}"


def notify_db_url(directory: Path, db: str) -> str:
    """The notifier's outbox: its own SQLite file beside a SQLite store (two writers on one
    file would wait on each other's locks), else the same database."""
    return f"sqlite:///{directory / 'notify.db'}" if db.startswith("sqlite") else db


@dataclass(frozen=True)
class Runtime:
    broker: str  # kafka://host:port
    prefix: str
    partitions: int
    db: str
    web_port: int | None
    pid: int
    worker_port: int | None = None
    # the city config's clocks.future_skew, so `monitor act` checks `at` as the worker will
    future_skew_s: int = FUTURE_SKEW_S

    def write(self, directory: Path) -> None:
        tmp = directory / (RUNTIME_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2))
        tmp.replace(directory / RUNTIME_FILE)  # atomic: a reader never sees half a file

    @classmethod
    def read(cls, directory: Path) -> Runtime | None:
        path = directory / RUNTIME_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        rt = cls(**data)
        return rt if _alive(rt.pid) else None

    @staticmethod
    def remove(directory: Path) -> None:
        (directory / RUNTIME_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
