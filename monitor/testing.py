"""Helpers for testing the monitor and code built on it, kept in the package (as bytewax keeps
its testing.py) so that every test suite uses one copy:

    clock = FakeClock(datetime(2026, 5, 1, tzinfo=UTC)); clock.advance(minutes=5)
    metric(registry, "monitor_dead_letters_total", topic="posts.raw", reason="bad post")
    wait_for(lambda: store.incidents(), 30, "an incident", procs=[worker])
    with pg_schema(url) as schema_url: ...          # a throw-away PostgreSQL schema
    web = web_child(run.pid)                        # the `monitor web` of a `monitor run`
    sent = MemorySender(); pipe = bootstrap(settings, config, send=sent)
    (tmp / "city.yaml").write_text(city_config_text().replace(...))  # a variant of Ziyang's

Nothing here uses pytest; fixtures that wrap these live in the tests' conftest files.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry

from monitor.topics import Topic

_FILE_KEYS = re.compile(r"(?m)^(\s+(?:model|triggers|ladder):\s*)([^\s#]+)")


def city_config_text() -> str:
    """The packaged city config's text, with the files it names beside itself (the learned
    model, the trigger lexicon, the escalation ladder) made absolute: a copy written anywhere
    else still reads the packaged ones."""
    from monitor.config import DEFAULT_CONFIG

    here = DEFAULT_CONFIG.parent

    def absolute(m: re.Match[str]) -> str:
        value = m[2]
        return m[0] if Path(value).is_absolute() else f"{m[1]}{here / value}"

    return _FILE_KEYS.sub(absolute, DEFAULT_CONFIG.read_text("utf-8"))


START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Ziyang: outside quiet hours


class FakeClock:
    """A clock that moves only when told. `sleep` advances it and yields to the event loop."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    """A sample's value; 0.0 when it was never set (a counter not yet incremented)."""
    return registry.get_sample_value(name, labels) or 0.0


def wait_for(
    cond: Callable[[], object],
    timeout: float = 60,
    what: str = "condition",
    procs: Sequence[subprocess.Popen[Any]] = (),
    every: float = 0.2,
) -> None:
    """Poll `cond` until it is true or `timeout` seconds pass (then AssertionError naming
    `what`). A process in `procs` that exits meanwhile fails at once: waiting on would only
    hide its crash."""
    deadline = time.monotonic() + timeout
    while True:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"process {p.args!r} exited with {p.returncode}")
        if cond():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


@contextlib.contextmanager
def pg_schema(url: str, prefix: str = "t") -> Iterator[str]:
    """A fresh schema on the PostgreSQL at `url`, dropped on exit; yields a URL whose
    connections use it. Raises whatever the connection raises when the server is away."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'create schema "{schema}"'))
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with contextlib.suppress(sa.exc.OperationalError), engine.begin() as conn:
            conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))
        engine.dispose()


def children(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def is_monitor_web(pid: int) -> bool:
    """Whether `pid` runs `monitor web`; False once it is gone."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return b"monitor" in argv and b"web" in argv


def web_child(pid: int) -> int | None:
    """The `monitor web` process the `monitor run` `pid` started; None while there is none (not
    started yet, or being restarted)."""
    return next((c for c in children(pid) if is_monitor_web(c)), None)


class MemorySender:
    """A stand-in for the worker's producer: keeps every record the stages send, by topic."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    async def __call__(self, rec: Any) -> None:
        self.records.append(rec)

    def values(self, topic: Topic | str) -> list[bytes]:
        name = topic.value if isinstance(topic, Topic) else topic
        return [r.value for r in self.records if r.topic == name and r.value is not None]

    def decoded(self, topic: Topic | str) -> list[Any]:
        return [msgspec.json.decode(v) for v in self.values(topic)]
