"""A replay of a recorded live run gives the live run's incidents, grades, bodies, clock events
and verdicts; two replays give identical files; the replay touches nothing outside its report.

The live run is the worker's own stages (`streams.bootstrap.build_stages(live=True)`) on a
wall clock that moves through the story minute by minute, ticking every minute as a live
worker ticks every second; posts arrive at their observed times and the answers at their
recorded times, as the API would send them. What it was given is written out as the history
file that `monitor replay` reads, as a script would call it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from monitor.config import load_config
from monitor.domain.events import Event
from monitor.domain.model import Post
from monitor.domain.state import Action, IncidentState
from monitor.metrics import Metrics
from monitor.replay.timeline import iso, verdicts
from monitor.testing import FakeClock
from monitor.topics import Topic
from streams.bootstrap import build_stages
from streams.buckets import Buckets
from streams.records import ActionIn, Tick, encoder
from streams.stages import Inbound, Record
from tests.integration.helpers import THREE_INCIDENTS
from tests.replay.conftest import incidents, monitor, write_jsonl

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Ziyang
MINUTE = timedelta(minutes=1)
CLOCK_KINDS = {"deadline_warning": "warning", "deadline_breached": "breach",
               "unacknowledged": "unacknowledged"}  # fmt: skip


def story() -> list[tuple[int, dict[str, Any]]]:
    """(minute, history line): three incidents, reposts, a late repost, and answers."""

    def p(pid: str, text: str, minute: int, **kw: Any) -> tuple[int, dict[str, Any]]:
        at = iso(T0 + minute * MINUTE)
        if "repost_of" in kw:
            kw["repost_of"] = f"file:{kw['repost_of']}"
        return minute, {"id": f"file:{pid}", "text": text, "source": "weibo",
                        "published_at": at, "observed_at": at, **kw}  # fmt: skip

    return [p(pid, text, minute, **kw) for pid, text, minute, kw in THREE_INCIDENTS]


# (minute recorded, post whose incident it answers, fields): the school acknowledged within
# 20 minutes; the blast released at 4 h 10 min (recorded 10 min later); nothing else
ANSWERS = [
    (20, "file:s1", {"kind": "acknowledge", "by": "安岳县人民政府", "at_min": 20}),
    (260, "file:b1", {"kind": "release", "by": "市应急管理局", "at_min": 250,
                      "url": "https://www.ziyang.gov.cn/xxgk/1", "channel": "政府网站"}),
]  # fmt: skip
END_MIN = 30 * 60


class Live:
    """The live worker's stages on a fake wall clock."""

    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        self.stages = build_stages(load_config(), Buckets({}), Metrics.create(), self.clock,
                                   live=True)  # fmt: skip
        self.events: list[Event] = []
        self.states: dict[str, IncidentState] = {}
        self.home: dict[str, str] = {}  # post id → incident id
        self.keys: dict[str, str] = {}

    def take(self, records: list[Record]) -> None:
        follow = []
        for r in records:
            if r.topic == Topic.CLASSIFIED:
                follow.append(Inbound(r.value or b""))
            elif r.topic == Topic.EVENTS and r.value:
                e = msgspec.json.decode(r.value, type=Event)
                self.events.append(e)
                if e.kind == "assigned":
                    self.home[e.data["post_id"]] = e.incident_id
                if e.kind == "opened":
                    self.keys[e.incident_id] = e.data["key"]
            elif r.topic == Topic.STATE and r.value:
                s = msgspec.json.decode(r.value, type=IncidentState)
                self.states[s.id] = s
        if follow:
            self.take(self.stages.incidents.apply(follow))

    def post(self, line: dict[str, Any]) -> None:
        post = msgspec.convert(line, Post)
        self.take(self.stages.classify.apply([Inbound(encoder.encode(post))]))

    def answer(self, post_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        ident = self.home[post_id]
        at = T0 + fields["at_min"] * MINUTE
        extra = {k: v for k, v in fields.items() if k != "at_min"}
        action = Action(id=f"a-{fields['kind']}-{ident}", incident_id=ident, at=at, **extra)
        rec = ActionIn(self.keys[ident], action, self.clock())
        self.take(self.stages.incidents.apply([Inbound(encoder.encode(rec))]))
        return {"type": "answer", "id": action.id, "incident_id": ident, "at": iso(at),
                "recorded_at": iso(self.clock()), **extra}  # fmt: skip

    def tick(self) -> None:
        self.take(self.stages.incidents.apply([Inbound(encoder.encode(Tick(self.clock())))]))


def record_live(tmp: Path) -> tuple[Live, Path]:
    live = Live()
    posts = story()
    history: list[dict[str, Any]] = []
    for minute in range(END_MIN + 1):
        live.clock.now = T0 + minute * MINUTE
        for at, line in posts:
            if at == minute:
                live.post(line)
                history.append(line)
        for at, post_id, fields in ANSWERS:
            if at == minute:
                history.append(live.answer(post_id, fields))
        live.tick()
    # the replay ends at its last input's time: a last line moves event time to the end
    history.append({"id": "file:end", "text": "资阳今日天气晴好。", "source": "weibo",
                    "published_at": iso(live.clock())})  # fmt: skip
    return live, write_jsonl(tmp / "history.jsonl", history)


def clock_events(events: list[Event]) -> list[tuple[str, str | None, str]]:
    out = []
    for e in events:
        if e.kind in CLOCK_KINDS:
            out.append((CLOCK_KINDS[e.kind], e.data.get("rule"), iso(e.at)))
        elif e.kind == "action_recorded":
            out.append(("answer", None, iso(e.at)))
    return sorted(out)


def replayed_clock_events(inc: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    kinds = set(CLOCK_KINDS.values()) | {"answer"}
    return sorted(
        (e["kind"], None if e["kind"] == "answer" else e["clock"], e["at"])
        for e in inc["events"] if e["kind"] in kinds
    )  # fmt: skip


def test_a_replay_of_a_live_run_gives_the_live_run(tmp_path: Path) -> None:
    live, history = record_live(tmp_path)
    assert len(live.states) == 3
    done = monitor("replay", history, "--report", tmp_path / "r1", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    got = {i["id"]: i for i in incidents(tmp_path / "r1")}
    assert set(got) == set(live.states)
    for ident, state in live.states.items():
        inc = got[ident]
        assert inc["grade"] == state.grade.value
        assert inc["bodies"] == list(state.responsible.bodies)
        mine = [e for e in live.events if e.incident_id == ident]
        assert inc["verdicts"] == verdicts(state, mine, live.clock())
        assert replayed_clock_events(inc) == clock_events(mine)
        grades = [(e.data["to"], iso(e.at)) for e in mine if e.kind == "graded"]
        assert [(e["to"], e["at"]) for e in inc["events"] if e["kind"] == "graded"] == grades
    blast = next(i for i in got.values() if i["category"] == "work_safety")
    release = next(v for v in blast["verdicts"] if v["clock"] == "release")
    assert release["status"] == "met"  # released at 4 h 10 min, within 5 h
    assert ("warning", "release") in {(e["kind"], e["clock"]) for e in blast["events"]}
    assert "breach" in {e["kind"] for e in blast["events"]}  # the press conference's, at 24 h

    # twice: the same files, byte for byte; nothing left in the working directory
    again = monitor("replay", history, "--report", tmp_path / "r2", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    for name in ("incidents.json", "report.html", "notifications-dry-run.jsonl"):
        first = (tmp_path / "r1" / name).read_bytes()
        assert first == (tmp_path / "r2" / name).read_bytes(), name
        assert first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.jsonl", "r1", "r2"]
