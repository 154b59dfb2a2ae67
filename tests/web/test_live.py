"""Live push over Server-Sent Events, on a real uvicorn: a new incident reaches an open stream,
a reconnect with Last-Event-ID gets what it missed, a department's stream carries only its own
incidents, and a revoked token's open stream is ended."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor.web.auth import Users
from monitor.web.status import create_app
from tests.web.conftest import BLAST, SCHOOL, World, auth, open_incident, serving


class Stream:
    """An SSE connection read on a thread: messages arrive in `got` as (event, id, data)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.got: queue.Queue[tuple[str, str, dict[str, object]]] = queue.Queue()
        self.closed = threading.Event()
        self.kept: list[tuple[str, str, dict[str, object]]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self.thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with httpx.stream("GET", url, headers=headers, timeout=30) as resp:
                assert resp.status_code == 200, resp.read()
                event, ident, data = "message", "", ""
                for line in resp.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("id:"):
                        ident = line[3:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        self.got.put((event, ident, json.loads(data)))
                        event, ident, data = "message", "", ""
        except httpx.HTTPError:
            pass
        finally:
            self.closed.set()

    def next(self, want: str, timeout: float = 20) -> tuple[str, dict[str, object]]:
        """The first message of kind `want` not taken yet; others stay for later calls (the
        order of an `incident` and a `changed` about the same write depends on which the
        store shows first)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (event, ident, data) in enumerate(self.kept):
                if event == want:
                    del self.kept[i]
                    return ident, data
            left = deadline - time.monotonic()
            assert left > 0, f"no {want!r} message"
            try:
                self.kept.append(self.got.get(timeout=left))
            except queue.Empty:
                continue

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
def base(world: World, users: Users) -> Iterator[str]:
    app = create_app(world.store, CollectorRegistry(), users=users, send=world.send)
    with serving(app) as url:
        yield url


def add_incident(world: World, pid: str, text: str) -> str:
    state, events = open_incident(pid, text, world.now - timedelta(minutes=5))
    world.store.save_states([state])
    world.store.record_events(events)  # type: ignore[arg-type]
    return state.id


def test_a_new_incident_is_pushed_and_a_reconnect_resumes(world: World, base: str) -> None:
    stream = Stream(f"{base}/api/stream", auth("duty"))
    hello_id, _ = stream.next("hello")
    new = add_incident(world, "p-blast-2", "乐至县一烟花爆竹厂发生爆炸，已造成11人死亡。")
    ident, opened = stream.next("incident")
    assert opened["incident_id"] == new and opened["kind"] == "opened"
    assert int(ident) > int(hello_id)
    _, changed = stream.next("changed")
    assert new in changed["ids"]  # type: ignore[operator]
    stream.stop()

    # missed while disconnected: sent first on reconnecting with the last id seen
    missed = add_incident(world, "p-school-2", "雁江区一中学食堂疑似食物中毒，30余名学生送医。")
    again = Stream(f"{base}/api/stream", {**auth("duty"), "Last-Event-ID": ident})
    _, replayed = again.next("incident")
    assert replayed["incident_id"] == missed
    again.stop()


def test_a_departments_stream_carries_only_its_incidents(world: World, base: str) -> None:
    stream = Stream(f"{base}/api/stream", auth("emergency"))  # 市应急管理局
    stream.next("hello")
    other = add_incident(world, "p-school-3", SCHOOL.replace("石羊镇", "周礼镇"))
    mine = add_incident(world, "p-blast-3", BLAST.replace("宝台镇", "丰裕镇"))
    _, first = stream.next("incident")
    assert first["incident_id"] == mine, "the school incident is not this department's"
    changed = stream.next("changed")[1]["ids"]
    assert mine in changed and other not in changed  # type: ignore[operator]
    stream.stop()


def test_a_revoked_token_ends_an_open_stream(world: World, base: str, users: Users) -> None:
    stream = Stream(f"{base}/api/stream", auth("leader"))
    stream.next("hello")
    assert users.accounts is not None
    users.accounts.revoke("分管领导")
    stream.next("revoked")
    assert stream.closed.wait(10), "the stream stayed open"
    refused = httpx.get(f"{base}/api/stream", headers=auth("leader"), timeout=5)
    assert refused.status_code == 401
