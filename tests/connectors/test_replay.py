"""File replay: JSONL and CSV into the sink with original event times; bad lines dead-lettered;
an interrupted replay resumes; a kill -9 of `monitor sources replay` loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from connectors.base import Schedule
from connectors.replay import FileSource
from tests.connectors.conftest import FIXTURES, metric

BJ = timezone(timedelta(hours=8))
ROOT = Path(__file__).resolve().parents[2]


async def test_jsonl_keeps_event_times_and_dead_letters_bad_lines(
    make_runner, sink, registry, clock
) -> None:
    runner = make_runner(
        FileSource("hist", FIXTURES / "history.jsonl"),
        schedule=Schedule(max_pages=100, page_pause=0),
    )
    assert await runner.poll_once() == 4
    assert sink.ids == ["file:h1", "weibo:4806111732961615", "file:h4", "file:h7"]
    h1 = sink.posts[0]
    assert h1.published_at == datetime(2026, 4, 18, 8, 5, tzinfo=BJ)
    assert h1.observed_at == clock() and h1.reposts == 12
    assert sink.posts[2].published_at == datetime(2026, 4, 18, 10, 30, tzinfo=BJ)  # naive → Beijing
    reasons = {d.where.rsplit(":", 1)[1]: d.reason for d in sink.dead}
    assert set(reasons) == {"3", "5", "6"}
    assert "published_at is missing" in reasons["3"]
    assert reasons["5"].startswith("bad_record: JSON is malformed")
    assert "$.reposts" in reasons["6"]
    assert metric(registry, "connector_dead_letters_total", source="hist", reason="bad_record") == 3


async def test_csv(make_runner, sink) -> None:
    runner = make_runner(
        FileSource("csv", FIXTURES / "history.csv"), schedule=Schedule(max_pages=100, page_pause=0)
    )
    assert await runner.poll_once() == 3
    c1, c2, c5 = sink.posts
    assert (c1.id, c1.author, c1.reposts, c1.author_verified, c1.region) == (
        "file:c1",
        "安岳发布",
        5,
        True,
        "四川",
    )
    assert c1.published_at == datetime(2026, 4, 18, 8, 0, tzinfo=BJ)
    assert c2.reposts is None and c2.author_verified is False
    assert c5.text == "带逗号, 的文本" and c5.published_at == datetime(
        2026, 4, 18, 11, 0, tzinfo=BJ
    )
    reasons = {d.where.rsplit(":", 1)[1]: d.reason for d in sink.dead}
    assert "published_at is missing" in reasons["4"]
    assert "3 columns where the header has 7" in reasons["5"]


async def test_interrupted_replay_resumes_at_the_next_line(
    make_runner, sink, store, tmp_path
) -> None:
    path = tmp_path / "big.jsonl"
    lines = [
        json.dumps(
            {
                "id": f"n{i}",
                "text": f"帖子{i}",
                "published_at": f"2026-04-18T10:{i % 60:02d}:00+08:00",
            }
        )
        for i in range(250)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = make_runner(
        FileSource("big", path, batch_size=100), schedule=Schedule(max_pages=1, page_pause=0)
    )
    await first.poll_once()
    assert len(sink.posts) == 100
    second = make_runner(
        FileSource("big", path, batch_size=100), schedule=Schedule(max_pages=10, page_pause=0)
    )
    await second.poll_once()
    assert sink.ids == [f"file:n{i}" for i in range(250)]
    # Lines appended later are read on the next poll, and only they.
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            json.dumps({"id": "late", "text": "追加", "published_at": "2026-04-19T00:00:00+08:00"})
            + "\n"
        )
    await second.poll_once()
    assert sink.ids[-1] == "file:late" and len(sink.ids) == 251


def test_kill_9_during_replay_loses_nothing(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    total = 400
    history.write_text(
        "".join(
            json.dumps(
                {"id": f"k{i}", "text": f"记录{i}", "published_at": "2026-04-18T10:00:00+08:00"}
            )
            + "\n"
            for i in range(total)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "monitor",
        "sources",
        "replay",
        str(history),
        "--out",
        str(out),
        "--checkpoint",
        f"sqlite:///{tmp_path / 'cp.db'}",
        "--batch-size",
        "20",
        "--pause",
        "0.05",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if out.exists() and 60 <= len(out.read_bytes().splitlines()) < total:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "replay finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    partial = len(out.read_bytes().splitlines())
    assert 0 < partial < total
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    assert set(ids) == {f"file:k{i}" for i in range(total)}  # nothing lost
    # At-least-once: at most the one batch in flight at the kill is written twice.
    assert len(ids) - total <= 20
