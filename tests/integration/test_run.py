"""`monitor run` as a user runs it: post, act, SIGKILL, restart. Clocks shortened by config
(5 h → 25 s) as Alertmanager's acceptance tests do, because this test runs on wall time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.runtime.broker import free_port
from monitor.store import Store
from monitor.testing import city_config_text
from tests.integration.helpers import (
    BLAST,
    SCHOOL,
    metrics_value,
    outbox_settled,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SHORT_CLOCKS = """
clocks:
  release: {after: 25s, warnings: [20s]}
  press_conference: {after: 1h, warnings: [30m]}
  follow_up: {after: 1h, warnings: [30m]}
  answer: {after: 1h, warnings: [30m]}
  unacknowledged_after: 30m
"""


def short_config(tmp: Path) -> Path:
    text = city_config_text()
    head, _, tail = text.partition("\nclocks:\n")
    # keep everything after the clocks block (it ends at the next top-level key)
    rest = [ln for ln in tail.splitlines() if ln and not ln.startswith((" ", "#"))]
    after = tail[tail.index(rest[0]) :] if rest else ""
    path = tmp / "city.yaml"
    path.write_text(head + SHORT_CLOCKS + after, "utf-8")
    return path


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60
    )


def start_run(
    data: Path, config: Path, port: int, worker_port: int | None = None
) -> subprocess.Popen[bytes]:
    log = open(data.parent / "run.log", "ab")  # noqa: SIM115  (kept open for the child)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--data-dir", str(data), "--config", str(config),
         "--port", str(port), "--worker-port", str(worker_port or free_port()), "--no-demo", "--tick", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip


def runtime_ready(data: Path) -> bool:
    return (data / "runtime.json").exists()


def test_restart_after_sigkill_keeps_state_and_fires_missed_deadline_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = short_config(tmp_path)
    port, worker_port = free_port(), free_port()
    worker = f"http://127.0.0.1:{worker_port}"  # the worker's /metrics
    run = start_run(data, config, port, worker_port)
    try:
        wait_for(lambda: runtime_ready(data), 30, "runtime.json", [run])
        now = datetime.now(UTC).isoformat()
        posts = tmp_path / "posts.jsonl"
        lines = [
            json.dumps({"id": pid, "text": text, "published_at": now}, ensure_ascii=False)
            for pid, text in (("r-blast", BLAST), ("r-school", SCHOOL))
        ]
        posts.write_text("\n".join([*lines, "{not json"]) + "\n", "utf-8")
        out = monitor("post", "--data-dir", str(data), str(posts))
        assert out.returncode == 1, out.stderr  # one bad line, reported with its line number
        assert "posts.jsonl:3:" in out.stderr and "accepted 2 posts" in out.stdout
        db = json.loads((data / "runtime.json").read_text())["db"]
        store = Store(db)
        wait_for(lambda: len(store.incidents()) == 2, 40, "two incidents", [run])
        school = next(r.state for r in store.incidents() if r.state.category == "food_drug")
        acted = monitor("act", "--data-dir", str(data), school.id, "acknowledge", "--by", "值班员")
        assert acted.returncode == 0, acted.stderr
        unknown = monitor("act", "--data-dir", str(data), "no-such-incident", "acknowledge")
        assert unknown.returncode == 2 and "unknown incident" in unknown.stderr
        wait_for(lambda: _acted(store, school.id), 30, "action applied", [run])
        blast = next(r.state for r in store.incidents() if r.state.category == "work_safety")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    # Killed before the 25 s release deadline: else its breach would have fired live and the
    # restart would prove nothing. On a machine too slow for that this fails, saying so.
    assert not _breaches(store, blast.id), "the deadline passed before the kill"
    deadline = next(c.deadline for c in blast.clocks if c.rule == "release")
    wait_for(lambda: datetime.now(UTC) > deadline, 60, "the deadline to pass while down")
    run = start_run(data, config, port, worker_port)
    try:
        wait_for(lambda: runtime_ready(data), 30, "runtime.json after restart", [run])
        wait_for(lambda: len(_breaches(store, blast.id)) >= 1, 40, "breach at restart", [run])
        # more ticks after the breach: it must not fire again
        ticks = metrics_value(worker, "monitor_inputs_total", kind="tick")
        wait_for(lambda: metrics_value(worker, "monitor_inputs_total", kind="tick") >= ticks + 8,
                 30, "eight more ticks", [run])  # fmt: skip
        assert len(_breaches(store, blast.id)) == 1
        # An empty outbox is also "settled": wait for the breach's own delivery first (the
        # bridge rejoins its consumer group only once the killed member's session expires).
        record = data / "notifications-dry-run.jsonl"
        breach_key = f"notify:{blast.id}:release#0:breach/"
        wait_for(lambda: any(k.startswith(breach_key) for k in sent_keys(record))
                 and outbox_settled(data / "notify.db"), 60, "the breach notice sent", [run])  # fmt: skip
        keys = sent_keys(record)
        assert len(keys) == len(set(keys)), "no notification sent twice"
        assert any(k.startswith(f"notify:{blast.id}:opened/") for k in keys)
        assert len(store.incidents()) == 2
        assert _acted(store, school.id), "the action survived the restart"
        listing = monitor("incidents", "--data-dir", str(data), "--json")
        rows = json.loads(listing.stdout)
        assert {r["id"] for r in rows} == {school.id, blast.id}
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(30)
        store.close()
    # `incidents` reads the store with the monitor down too
    assert monitor("incidents", "--data-dir", str(data)).returncode == 0


def sent_keys(path: Path) -> list[str]:
    """The key of each delivery in the dry-run record (one per message and channel)."""
    if not path.exists():
        return []
    return [json.loads(line)["key"] for line in path.read_text("utf-8").splitlines() if line]


def _acted(store: Store, incident_id: str) -> bool:
    row = store.incident(incident_id)
    return row is not None and any(a.kind == "acknowledge" for a in row.state.actions)


def _breaches(store: Store, incident_id: str) -> list[dict[str, object]]:
    return [e for e in store.events_of(incident_id) if e["kind"] == "deadline_breached"]


def test_no_archived_input_stops_a_data_directory_from_starting(tmp_path: Path) -> None:
    """An archive holding what used to stop every start: an action with a 2 MB reason
    (MessageSizeTooLargeError on replay), a record that no longer decodes, and a split of every
    member kept after max_members capped the list (IndexError in the incident agent)."""
    from monitor.config import incident_params, load_config
    from monitor.domain.incidents import incident_key, new_incident_id
    from monitor.domain.state import Action
    from monitor.runtime.datadir import default_db_url
    from monitor.topics import Topic, topic
    from streams.records import ActionIn, Classified, encoder
    from tests.integration.helpers import T0, classifier, post, read_topic

    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "city.yaml"
    text = city_config_text()
    config.write_text(text.replace("    near_duplicate: 0.75\n",
                                   "    near_duplicate: 0.75\n    max_members: 2\n"), "utf-8")  # fmt: skip
    params = incident_params(load_config(config))
    assert params.assign.max_members == 2
    store = Store(default_db_url(data))
    posts = [post(f"b{i}", BLAST, i) for i in range(3)]
    key = incident_key(classifier().classify(posts[0]), "512000", params)
    rows = [("input", f"post:{p.id}", encoder.encode(
        Classified(key, p, classifier().classify(p), accepted_at=T0 + timedelta(minutes=9))
    ), key) for p in posts]  # fmt: skip
    incident = new_incident_id(posts[0], key)
    split = Action(id="sp1", incident_id=incident, kind="split", by="值班员",
                   at=T0 + timedelta(minutes=30), post_ids=("b0", "b1"))  # fmt: skip
    rows.append(("input", "action:sp1", encoder.encode(ActionIn(key, split, split.at)), key))
    huge = (b'{"key":"' + key.encode() + b'","recorded_at":"2026-05-01T09:00:00Z","action":'
            b'{"id":"big","incident_id":"' + incident.encode() + b'","kind":"close","by":"x",'
            b'"at":"2026-05-01T09:00:00Z","reason":"' + b"x" * 2_000_000 + b'"}}')  # fmt: skip
    rows.append(("action", "big", huge, key))
    rows.append(("input", "post:broken", b'{"type":"post","key":"k"', key))
    store.archive_many(rows)
    port = free_port()
    run = start_run(data, config, port)
    try:
        wait_for(lambda: runtime_ready(data), 60, "runtime.json", [run])
        wait_for(lambda: len(store.incidents()) == 2, 60, "the split applied", [run])
        broker = json.loads((data / "runtime.json").read_text())["broker"]
        letters = read_topic(broker, topic(Topic.DLQ))
        assert run.poll() is None
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(30)
    where = sorted(str(d["where"]) for d in letters if d["source"] == "archive")
    assert len(where) == 2 and "action big" in where[0] and "post:broken" in where[1]
    states = {r.state.id: r.state for r in store.incidents()}
    assert states[incident].members == () and states[incident].heat.posts == 1
    store.close()

