"""No poison record: whatever a record holds, the incident stage dead-letters it with the reason
and goes on; an unexpected failure also raises a metric and tells the duty office; the archive
replay at start leaves out what it cannot replay. Each known poison of issue 11 is here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from monitor.config import load_config
from monitor.domain.escalation import plan
from monitor.domain.events import NotificationIntent
from monitor.domain.incidents import incident_key
from monitor.domain.model import Post
from monitor.domain.policy import AssignPolicy, IncidentParams
from monitor.domain.state import Action
from monitor.metrics import Metrics
from monitor.notify.config import load_ladder
from monitor.notify.message import from_intent
from monitor.runtime.actions import ActionRefused, record_action, submit_action
from monitor.runtime.producer import replay_records
from monitor.store import ArchiveRow, Store, sqlite_url
from monitor.testing import FakeClock, metric
from monitor.topics import DeadLetter, Topic
from streams.buckets import Buckets
from streams.processor import Processor, routing_router
from streams.records import ActionIn, ActionRequest, Classified, encoder
from streams.stages import Faults, Inbound, IncidentStage, Record
from tests.integration.helpers import BLAST, FIRE, T0, classifier, opened, post

HOME = "512000"


def stage(params: IncidentParams | None = None) -> IncidentStage:
    clock = FakeClock(T0 + timedelta(hours=1))
    proc = Processor(params or IncidentParams(), HOME, routing_router(classifier().routing))
    metrics = Metrics.create()
    return IncidentStage(proc, Buckets({}), Faults(metrics, clock), metrics, clock, live=False)


def classified(p: Post, params: IncidentParams | None = None) -> bytes:
    cls = classifier().classify(p)
    return encoder.encode(Classified(incident_key(cls, HOME, params or IncidentParams()), p, cls))


def of(records: list[Record], t: Topic) -> list[Any]:
    return [msgspec.json.decode(r.value) for r in records if r.topic == t]


def letters(records: list[Record]) -> list[DeadLetter]:
    return [msgspec.json.decode(r.value, type=DeadLetter) for r in records if r.topic == Topic.DLQ]


def test_a_naive_observed_time_beside_an_aware_publication_is_refused_not_a_crash() -> None:
    """Was a TypeError in streams/processor.py (a copy of incidents._seen without its time-zone
    check), which stopped the incident agent."""
    s = stage()
    mixed = msgspec.structs.replace(post("m1", FIRE), observed_at=datetime(2026, 5, 1, 8, 0))  # noqa: DTZ001
    out = s.apply([Inbound(classified(mixed)), Inbound(classified(post("ok", BLAST)))])
    [letter] = letters(out)
    assert letter.reason.startswith("refused: ") and "observed_at has no time zone" in letter.reason
    assert letter.source == "posts.classified"
    assert {e["data"]["post_id"] for e in of(out, Topic.EVENTS) if e["kind"] == "assigned"} == {"ok"}


def test_a_split_of_every_kept_member_after_the_cap_applies() -> None:
    """max_members capped the list, then a split named every kept member: IndexError in
    actions._heat_of, which refusal() did not catch, so the archived action replayed into the
    same crash at every start."""
    params = IncidentParams(assign=AssignPolicy(max_members=2))
    s = stage(params)
    posts = [post(f"b{i}", BLAST, i) for i in range(3)]
    s.apply([Inbound(classified(p, params)) for p in posts])
    [state] = s.buckets.get(s.buckets.held().pop()).incidents  # type: ignore[union-attr]
    assert state.post_ids == ("b0", "b1") and state.heat.posts == 3
    split = Action(id="sp1", incident_id=state.id, kind="split", by="值班员",
                   at=T0 + timedelta(minutes=30), post_ids=("b0", "b1"), reason="另一事件")  # fmt: skip
    out = s.apply([Inbound(encoder.encode(ActionIn(state.key, split, split.at)))])
    assert not letters(out)
    kinds = [e["kind"] for e in of(out, Topic.EVENTS)]
    assert "split" in kinds and "opened" in kinds
    bucket = s.buckets.get(state.key)
    assert bucket is not None
    rest = next(i for i in bucket.incidents if i.id == state.id)
    assert rest.members == () and rest.heat.posts == 1


def test_any_failure_is_dead_lettered_counted_and_told_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = stage()
    real = s.processor.on_post

    def flaky(bucket: Any, p: Post, *rest: Any) -> Any:
        if p.id == "bad":
            raise RuntimeError("boom")
        return real(bucket, p, *rest)

    monkeypatch.setattr(s.processor, "on_post", flaky)
    out = s.apply([Inbound(classified(post("bad", FIRE)), 3, 17),
                   Inbound(classified(post("good", BLAST)))])  # fmt: skip
    [letter] = letters(out)
    assert letter.reason == "poison: incidents: RuntimeError: boom"
    assert (letter.partition, letter.offset) == (3, 17) and '"bad"' in letter.raw
    assert metric(s.metrics.registry, "monitor_poison_records_total", stage="incidents") == 1
    assert metric(s.metrics.registry, "monitor_dead_letters_total",
                  topic="posts.classified", reason="poison") == 1  # fmt: skip
    [notice] = [n for n in of(out, Topic.NOTIFICATIONS) if n["step"] == "record_refused"]
    assert "roles" not in notice and "RuntimeError" in notice["title"]  # the tree routes it:
    assert {r.role.value for d in plan(load_ladder().ladder, from_intent(
        msgspec.convert(notice, NotificationIntent)).trigger()).deliveries
        for r in d.recipients} == {"duty_staff"}  # fmt: skip
    assert any(e["data"].get("post_id") == "good" for e in of(out, Topic.EVENTS))
    # the same kind of failure again within the hour: dead-lettered, no second notice
    again = s.apply([Inbound(classified(post("bad", FIRE)))])
    assert len(letters(again)) == 1
    assert [n["key"] for n in of(again, Topic.NOTIFICATIONS)] == [notice["key"]]


def test_an_action_over_the_state_budget_is_refused() -> None:
    s = stage()
    s.apply([Inbound(classified(post("b1", BLAST)))])
    [state] = s.buckets.get(s.buckets.held().pop()).incidents  # type: ignore[union-attr]
    out: list[Record] = []
    for i in range(60):  # each note ~6 KB as JSON: the budget (256 KiB) is met after ~40
        note = Action(id=f"n{i}", incident_id=state.id, kind="acknowledge", by="值班员",
                      at=T0 + timedelta(minutes=i), note="很" * 2000)  # fmt: skip
        out += s.apply([Inbound(encoder.encode(ActionIn(state.key, note, note.at)))])
    refused = [d for d in letters(out) if d.reason.startswith("too large")]
    assert 10 < len(refused) < 60
    assert all(len(r.value) < 512 * 1024 for r in out if r.value is not None)


# --- actions too large to archive ------------------------------------------------------------


def test_an_action_over_its_field_limits_is_refused_before_it_is_archived(tmp_path: Path) -> None:
    """A 2 MB reason was archived (500), and every later `monitor run` exited with
    MessageSizeTooLargeError replaying it; at 1 MB it was answered "recorded" and never applied."""
    store = Store(sqlite_url(tmp_path / "m.db"))
    state = opened(post("f1", FIRE)).state
    store.save_states([state])
    sent: list[bytes] = []

    async def send(key: str, body: bytes) -> None:
        sent.append(body)

    now = T0 + timedelta(hours=1)
    for size in (1_000_000, 2_000_000):
        huge = Action(id=f"c{size}", incident_id=state.id, kind="close", by="值班员", at=now,
                      reason="x" * size)  # fmt: skip
        with pytest.raises(ActionRefused) as refused:
            asyncio.run(submit_action(store, huge, send, now))
        assert refused.value.status == 422 and refused.value.field == "reason"
    assert list(store.archived()) == [] and sent == []
    ok = Action(id="c1", incident_id=state.id, kind="close", by="值班员", at=now, reason="已处置")
    assert not record_action(store, ok, now).duplicate
    store.close()


# --- the archive replay at start -------------------------------------------------------------


def test_no_archived_row_stops_a_replay() -> None:
    cfg = load_config()
    good = post("g1", BLAST)
    ghost = Action(id="a1", incident_id="x", kind="close", by="值班员", at=T0, reason="r" * 5000)
    req = msgspec.json.encode({"key": "k", "action": msgspec.to_builtins(ghost),
                               "recorded_at": T0.isoformat()})  # fmt: skip
    at = T0.isoformat()
    rows = [
        ArchiveRow(1, "input", "post:x", "k", b"{not json", at),
        ArchiveRow(2, "input", "post:y", "k", b'{"type":"post","key":"k","post":{"id":"y"}}', at),
        ArchiveRow(3, "post", "g1", None, encoder.encode(good), at),
        ArchiveRow(4, "action", "a1", "k", req, at),  # archived before the limits existed
        ArchiveRow(5, "post", "z", None, b'{"id": "z", "text": 5}', at),
    ]
    dead: list[DeadLetter] = []
    records = replay_records(rows, cfg, dead)
    assert len(records) == 1
    replayed = msgspec.json.decode(records[0][1], type=Classified)
    assert replayed.post.id == "g1" and replayed.accepted_at == T0
    assert sorted(d.where or "" for d in dead) == [
        "archive seq 1 (input post:x)", "archive seq 2 (input post:y)",
        "archive seq 4 (action a1)", "archive seq 5 (post z)",
    ]  # fmt: skip
    assert all(d.source == "archive" and d.reason for d in dead)


def test_a_replayed_input_gets_the_time_it_was_accepted() -> None:
    """Inputs archived before `accepted_at` existed are bounded by the archive's own time, so
    every start gives the same result."""
    cfg = load_config()
    future = Post(id="f", text=BLAST, source="weibo", published_at=datetime(2027, 1, 1, tzinfo=UTC))
    body = classified(future)
    rows = [ArchiveRow(1, "input", "post:f", "k", body, T0.isoformat())]
    [(_key, value)] = replay_records(rows, cfg)
    assert msgspec.json.decode(value, type=Classified).accepted_at == T0


def test_action_requests_with_unknown_fields_are_dead_lettered() -> None:
    s = stage()
    bad = encoder.encode(ActionRequest(key="k", action=Action(
        id="a", incident_id="nope", kind="acknowledge", by="x", at=T0), recorded_at=T0))
    out = s.apply([Inbound(bad)])  # an ActionRequest is not an incident-stage input
    assert [d.reason.split(":")[0] for d in letters(out)] == ["bad input"]
