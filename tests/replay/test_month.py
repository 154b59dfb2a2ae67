"""A month of 2025 history replayed in 2026: the clocks run on the history's time, so each
follow-up clock fires once per 24 h of event time (the issue saw one cycle 503 times on wall
time), and nothing is sent, though the ladder's channels point at a live listener."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.notify.config import DEFAULT_LADDER
from monitor.replay.timeline import iso
from monitor.testing import city_config_text
from tests.integration.helpers import BLAST, FIRE
from tests.replay.conftest import incidents, monitor, write_jsonl

START = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
END = datetime(2025, 3, 31, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MINE = "乐至县童家镇一煤矿发生瓦斯爆炸事故，已造成11人死亡，救援正在进行。"


class Listener:
    """A TCP listener that counts every connection: any send (HTTP robot, webhook, SMTP) would
    have to open one."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    ear = Listener()
    yield ear
    ear.sock.close()


def city_with_ladder_to(tmp: Path, port: int) -> Path:
    ladder = DEFAULT_LADDER.read_text("utf-8").replace("127.0.0.1:9", f"127.0.0.1:{port}")
    assert f"127.0.0.1:{port}" in ladder
    (tmp / "ladder.yaml").write_text(ladder, "utf-8")
    city = city_config_text().replace(
        "escalation: {}", "escalation: {ladder: ladder.yaml}"
    )
    path = tmp / "city.yaml"
    path.write_text(city, "utf-8")
    return path


def month() -> list[dict[str, Any]]:
    """Two grade II incidents on 1 March 2025: a blast released at 3 h (then never again),
    a flooded mine never answered; a small fire every other day keeps event time moving."""
    rows: list[dict[str, Any]] = [
        {"id": "b1", "text": BLAST, "source": "weibo", "published_at": iso(START)},
        {"id": "m1", "text": MINE, "source": "weibo", "published_at": iso(START + timedelta(hours=1))},
        {"type": "answer", "post_id": "b1", "kind": "release", "by": "市应急管理局",
         "at": iso(START + timedelta(hours=3)), "url": "https://www.ziyang.gov.cn/xxgk/2",
         "channel": "政府网站"},
    ]  # fmt: skip
    day = START + DAY
    n = 0
    while day <= END:
        rows.append({"id": f"f{n}", "text": FIRE.replace("天池街道", f"天池街道{n}号"),
                     "source": "weibo", "published_at": iso(day + timedelta(hours=2))})  # fmt: skip
        day += 2 * DAY
        n += 1
    # a source whose clock is a year ahead: seen on 10 March, claiming 2026 (the guard clamps
    # it to when it was seen, as live; it must not move event time a year on)
    rows.append({"id": "ahead", "text": "安岳县龙台镇一在建工地发生坍塌事故，已造成10人死亡。",
                 "source": "weibo", "published_at": "2026-03-10T02:00:00Z",
                 "observed_at": iso(START + 9 * DAY)})  # fmt: skip
    rows.append(
        {"id": "end", "text": "资阳今日天气晴好。", "source": "weibo", "published_at": iso(END)}
    )
    return rows


def follow_up_breaches(inc: dict[str, Any]) -> list[datetime]:
    return [
        datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        for e in inc["events"] if e["kind"] == "breach" and e["clock"] == "follow_up"
    ]  # fmt: skip


def test_a_month_of_2025_fires_each_follow_up_once_a_day_and_sends_nothing(
    tmp_path: Path, listener: Listener
) -> None:
    city = city_with_ladder_to(tmp_path, listener.port)
    history = write_jsonl(tmp_path / "march-2025.jsonl", month())
    done = monitor("replay", history, "--report", tmp_path / "out", "--config", city, "--quiet")
    assert done.returncode == 0, done.stderr
    found = {i["first_post"]["id"]: i for i in incidents(tmp_path / "out")}
    blast, mine = found["file:b1"], found["file:m1"]
    assert blast["grade"] == mine["grade"] == "II"

    # the blast's release at 3 h re-armed follow-up: one breach per 24 h from it to the end
    released = START + timedelta(hours=3)
    days = int((END - released) / DAY)
    assert follow_up_breaches(blast) == [released + k * DAY for k in range(1, days + 1)]
    # the mine, never answered: release and press conference breach once each, follow-up daily
    first = START + timedelta(hours=1)
    breaches = [e for e in mine["events"] if e["kind"] == "breach"]
    assert [e["clock"] for e in breaches].count("release") == 1
    assert [e["clock"] for e in breaches].count("press_conference") == 1
    days = int((END - first) / DAY)
    assert follow_up_breaches(mine) == [first + k * DAY for k in range(1, days + 1)]
    # each follow-up cycle warned twice (T-4h, T-1h), once each
    warnings = [(e["cycle"], e["before_min"]) for e in mine["events"]
                if e["kind"] == "warning" and e["clock"] == "follow_up"]  # fmt: skip
    assert sorted(warnings) == sorted({(c, m) for c in range(days + 1) for m in (240, 60)})

    # nothing sent: no connection reached the channels' address; the dry run kept them all
    assert listener.connections == 0
    recorded = (tmp_path / "out" / "notifications-dry-run.jsonl").read_text("utf-8").splitlines()
    assert recorded and all(json.loads(line)["at"] < "2025-04" for line in recorded)
    notes = [e for e in mine["events"] if e["kind"] == "notification" and e["step"] == "breach"]
    assert notes, "breaches are recorded as notifications that would have gone"
    assert all(e["at"].startswith("2025-03") for e in mine["events"])
    ahead = found["file:ahead"]
    assert ahead["first_post"]["at"] == iso(START + 9 * DAY)  # clamped to when it was seen
    assert all(e["at"] < "2025-04" for i in found.values() for e in i["events"])


def test_the_memory_outbox_records_what_the_database_outbox_records(tmp_path: Path) -> None:
    """The sandbox keeps its outbox in memory (monitor/replay/memory_outbox.py); replayed
    through the notifier's own database outbox, the same month records the same sends."""
    from monitor.config import load_config
    from monitor.replay.history import read_history
    from monitor.replay.sandbox import Sandbox

    history = write_jsonl(tmp_path / "march-2025.jsonl", month())
    inputs, bad = read_history(history)
    assert not bad
    runs = []
    for name, db in (("memory", None), ("sqlite", f"sqlite:///{tmp_path / 'outbox.db'}")):
        out = tmp_path / f"{name}.jsonl"
        run = Sandbox(load_config(), record_to=out, outbox_db=db).run(inputs)
        runs.append((run.deliveries, out.read_text("utf-8")))
    (memory, memory_file), (database, database_file) = runs
    assert len(memory) > 100
    assert memory == database
    assert memory_file == database_file
