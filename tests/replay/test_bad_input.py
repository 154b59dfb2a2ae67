"""Bad input gets clear errors: bad lines one by one (the rest replays), an empty range says
so, a rules file with errors stops the command before anything runs. The archive of a data
dir is read, never written."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from monitor.domain.model import Post
from monitor.replay.timeline import iso
from monitor.store import Store, sqlite_url
from tests.integration.helpers import BLAST, SCHOOL
from tests.replay.conftest import incidents, monitor

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)

HISTORY = "\n".join([
    json.dumps({"id": "b1", "text": BLAST, "published_at": "2026-05-01T08:00:00+08:00"}),
    '{"id": "b2", "text": "no time at all"}',
    "not json",
    '{"id": "b3", "text": "x", "published_at": "2026-05-01T09:00:00+08:00", "reposts": "很多"}',
    '{"type": "answer", "kind": "release", "by": "市应急管理局", "at": "2026-05-01T10:00:00+08:00"}',
    '{"type": "answer", "kind": "shout", "by": "x", "at": "2026-05-01T10:00:00+08:00", "post_id": "b1"}',
    '{"type": "answer", "post_id": "zz", "kind": "acknowledge", "by": "市应急管理局", "at": "2026-05-01T10:00:00+08:00"}',
    '{"type": "answer", "post_id": "b1", "kind": "release", "by": "市应急管理局", "at": "2026-05-01T11:00:00+08:00"}',
    json.dumps({"id": "s1", "text": SCHOOL, "published_at": "2026-05-01T08:30:00+08:00"}),
]) + "\n"  # fmt: skip


def test_bad_lines_are_reported_one_by_one_and_the_good_ones_replay(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(HISTORY, "utf-8")
    done = monitor("replay", path, "--report", tmp_path / "out", "--quiet")
    assert done.returncode == 1
    errors = {line.split(": ", 1)[0]: line for line in done.stderr.splitlines()
              if re.match(rf"{re.escape(str(path))}:\d+: ", line)}  # fmt: skip
    assert set(errors) == {f"{path}:{n}" for n in (2, 3, 4, 5, 6, 7, 8)}, done.stderr
    assert "published_at is missing" in errors[f"{path}:2"]
    assert "not JSON" in errors[f"{path}:3"]
    assert "$.reposts" in errors[f"{path}:4"]
    assert "give incident_id or post_id" in errors[f"{path}:5"]
    assert "'shout' is not one of" in errors[f"{path}:6"]
    assert "no incident holds post file:zz" in errors[f"{path}:7"]  # refused when it came up
    assert "needs `url`" in errors[f"{path}:8"]  # the domain's own refusal, with its line
    got = sorted(i["first_post"]["id"] for i in incidents(tmp_path / "out"))
    assert got == ["file:b1", "file:s1"]
    assert "跳过 7 行" in done.stderr


def test_csv_history(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "type,id,text,published_at,post_id,kind,by,at,url,channel\n"
        f"post,b1,{BLAST},2026-05-01 08:00:00,,,,,,\n"
        "answer,,,,b1,release,市应急管理局,2026-05-01 11:00:00,https://x.gov.cn/1,网站\n"
        "post,b9,短行\n", "utf-8",
    )  # fmt: skip
    done = monitor("replay", path, "--report", tmp_path / "out", "--quiet")
    assert done.returncode == 1
    assert f"{path}:4: 3 columns where the header has 10" in done.stderr
    [inc] = incidents(tmp_path / "out")
    [release] = [v for v in inc["verdicts"] if v["clock"] == "release"]
    assert release["status"] == "met" and release["answered_at"] == "2026-05-01T03:00:00Z"


def test_a_rules_file_with_errors_stops_before_anything_runs(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(HISTORY, "utf-8")
    rules = tmp_path / "bad.yaml"
    rules.write_text("clocks:\n  release: {after: 5 hours}\ncategories:\n  nonsense: {}\n", "utf-8")
    done = monitor("replay", path, "--report", tmp_path / "out", "--rules", rules, "--quiet")
    assert done.returncode == 2
    assert f"{rules}:2: clocks.release.after" in done.stderr, done.stderr
    assert f"{rules}:4: categories.nonsense" in done.stderr, done.stderr
    assert "nothing was replayed" in done.stderr
    assert not (tmp_path / "out").exists()
    assert f"{path}:3" not in done.stderr  # the history was never read


def _archive(db: Path) -> None:
    store = Store(sqlite_url(db))
    enc = msgspec.json.Encoder()
    for n, (pid, text) in enumerate((("b1", BLAST), ("s1", SCHOOL))):
        at = T0 + timedelta(minutes=10 * n)
        p = Post(id=f"weibo:{pid}", text=text, source="weibo", published_at=at, observed_at=at)
        store.archive("post", p.id, enc.encode(p), now=at)
    store.close()


def test_the_archive_by_range_and_an_empty_range(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _archive(data / "monitor.db")
    before = hashlib.sha256((data / "monitor.db").read_bytes()).hexdigest()
    files = sorted(p.name for p in data.iterdir())
    done = monitor("replay", "--data-dir", data, "--from", "2026-05-01T08:00+08:00",
                   "--to", "2026-05-01T08:05+08:00", "--report", tmp_path / "out", "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    [inc] = incidents(tmp_path / "out")
    assert inc["first_post"] == {"id": "weibo:b1", "at": iso(T0)}
    whole = monitor("replay", "--data-dir", data, "--report", tmp_path / "all", "--quiet")
    assert whole.returncode == 0 and len(incidents(tmp_path / "all")) == 2

    empty = monitor("replay", "--data-dir", data, "--from", "2026-06-01", "--to", "2026-07-01",
                    "--report", tmp_path / "none", "--quiet")  # fmt: skip
    assert empty.returncode == 1
    assert "nothing to replay in this range" in empty.stderr and "范围内为空" in empty.stderr
    assert not (tmp_path / "none").exists()
    # the live store is read, never written
    assert hashlib.sha256((data / "monitor.db").read_bytes()).hexdigest() == before
    assert sorted(p.name for p in data.iterdir()) == files
