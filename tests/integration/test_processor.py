"""The edge processor the worker runs, without Faust: buckets, redelivery, actions, ticks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.config import incident_params, load_config
from monitor.domain.actions import ActionError
from monitor.domain.incidents import incident_key
from monitor.domain.state import Action
from streams import processor
from streams.processor import Bucket, Processor, UnknownIncident, routing_router
from streams.records import Absorb, Classified
from tests.integration.helpers import BLAST, FIRE, SCHOOL, T0, classifier, post


@pytest.fixture(scope="module")
def proc() -> Processor:
    cfg = load_config()
    return Processor(incident_params(cfg), cfg.jurisdiction.code,
                     routing_router(classifier().routing))  # fmt: skip


def _post(proc: Processor, bucket: Bucket, pid: str, text: str, minutes: float = 0) -> Bucket:
    p = post(pid, text, minutes)
    return proc.on_post(bucket, p, classifier().classify(p)).bucket


def test_redelivered_post_is_a_no_op(proc: Processor) -> None:
    b = _post(proc, Bucket(key="5120:safety", partition=0), "b1", BLAST)
    p = post("b1", BLAST)
    again = proc.on_post(b, p, classifier().classify(p))
    assert not again.events and not again.changed
    assert again.bucket.incidents == b.incidents


def test_seq_counts_inputs_and_watermark_never_goes_back(proc: Processor) -> None:
    b = _post(proc, Bucket(key="5120:safety", partition=0), "b1", BLAST, 30)
    b2 = proc.on_tick(b, T0).bucket  # an older tick
    assert b2.seq == b.seq + 1 and b2.watermark == b.watermark == T0 + timedelta(minutes=30)


def test_tick_fires_the_release_breach_once(proc: Processor) -> None:
    b = _post(proc, Bucket(key="5120:safety", partition=0), "b1", BLAST)
    first = proc.on_tick(b, T0 + timedelta(hours=5))
    breaches = [e for e in first.events if e.kind == "deadline_breached"]
    assert [e.data["rule"] for e in breaches] == ["release"]
    assert any(n.step == "breach" for n in first.notifications)
    again = proc.on_tick(first.bucket, T0 + timedelta(hours=5, minutes=1))
    assert not [e for e in again.events if e.kind == "deadline_breached"]


def test_actions_unknown_incident_and_invalid_are_refused(proc: Processor) -> None:
    b = _post(proc, Bucket(key="5120:safety", partition=0), "f1", FIRE)
    ghost = Action(id="a1", incident_id="nope", kind="acknowledge", by="值班员", at=T0)
    with pytest.raises(UnknownIncident, match="nope"):
        proc.on_action(b, ghost, T0)
    inc = b.incidents[0].id
    no_url = Action(id="a2", incident_id=inc, kind="release", by="值班员", at=T0)
    with pytest.raises(ActionError, match="needs `url`"):
        proc.on_action(b, no_url, T0)
    ok = Action(id="a3", incident_id=inc, kind="acknowledge", by="值班员", at=T0)
    res = proc.on_action(b, ok, T0)
    assert res.changed[inc].acknowledged_at == T0
    assert proc.on_action(res.bucket, ok, T0).events == []  # idempotent by id


# --- merge across keys ---------------------------------------------------------------------


def _key(text: str) -> str:
    cfg = load_config()
    cls = classifier().classify(post("k", text))
    return incident_key(cls, cfg.jurisdiction.code, incident_params(cfg))


def _two_keys(proc: Processor) -> tuple[Bucket, Bucket]:
    school = _post(proc, Bucket(key=_key(SCHOOL), partition=0), "s1", SCHOOL)
    blast = _post(proc, Bucket(key=_key(BLAST), partition=1), "b1", BLAST)
    assert school.key != blast.key
    return school, blast


def _merge(src: str, dst: str) -> Action:
    """The duty desk merges `src` into `dst`, 10 minutes in."""
    return Action(id="m1", incident_id=src, kind="merge", target=dst, by="值班员",
                  at=T0 + timedelta(minutes=10), reason="同一事件")  # fmt: skip


def test_a_merge_across_keys_is_handed_to_the_target_and_applied_once(proc: Processor) -> None:
    school, blast = _two_keys(proc)
    src, dst = school.incidents[0].id, blast.incidents[0].id
    merge = _merge(src, dst)
    out = proc.on_action(school, merge, merge.at, target_key=blast.key)
    assert out.changed[src].status == "merged" and out.changed[src].merged_into == dst
    [absorb] = out.forward
    assert isinstance(absorb, Absorb) and absorb.key == blast.key
    assert out.bucket.moved == {dst: blast.key}

    got = proc.on_absorb(blast, absorb)
    target = got.changed[dst]
    assert set(target.post_ids) == {"b1", "s1"} and target.merged_from == (src,)
    assert any(e.kind == "action_recorded" for e in got.events)

    # redelivered after a crash: the source sends the second half again, the target ignores it
    again = proc.on_action(out.bucket, merge, merge.at, target_key=blast.key)
    assert not again.events and again.forward == [absorb]
    assert not proc.on_absorb(got.bucket, absorb).events


def test_a_post_for_a_merged_away_incident_follows_it(proc: Processor) -> None:
    school, blast = _two_keys(proc)
    src, dst = school.incidents[0].id, blast.incidents[0].id
    merge = _merge(src, dst)
    out = proc.on_action(school, merge, merge.at, target_key=blast.key)
    blast = proc.on_absorb(blast, out.forward[0]).bucket  # type: ignore[arg-type]

    repost = post("s2", "转发：" + SCHOOL, 20, repost_of="s1")
    sent = proc.on_post(out.bucket, repost, classifier().classify(repost))
    assert not sent.events, "the source keeps nothing of it"
    [fwd] = sent.forward
    assert isinstance(fwd, Classified) and fwd.key == blast.key and fwd.forwarded_from == school.key

    joined = proc.on_post(blast, fwd.post, fwd.cls)
    assert "s2" in joined.changed[dst].post_ids


def test_absorb_into_an_unknown_or_closed_target_is_refused(proc: Processor) -> None:
    school, blast = _two_keys(proc)
    src, dst = school.incidents[0].id, blast.incidents[0].id
    merge = _merge(src, dst)
    [absorb] = proc.on_action(school, merge, merge.at, target_key=blast.key).forward
    with pytest.raises(UnknownIncident, match=dst):
        proc.on_absorb(Bucket(key=blast.key, partition=1), absorb)  # type: ignore[arg-type]
    close = Action(id="c1", incident_id=dst, kind="close", by="值班员",
                   at=T0 + timedelta(minutes=5), reason="已处置")  # fmt: skip
    closed = proc.on_action(blast, close, close.at).bucket
    with pytest.raises(ActionError, match="closed"):
        proc.on_absorb(closed, absorb)  # type: ignore[arg-type]


@pytest.mark.parametrize("small", [0, 32])
def test_a_closed_incident_leaves_once_the_window_passed_and_clocks_fire_in_between(
    proc: Processor, small: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inputs ask only the incidents with something due (see Processor._advance; `small` 0:
    with the index of clocks even for two incidents): a closed incident still leaves at the
    end of the assignment window, and the others' clocks fire."""
    monkeypatch.setattr(processor, "SMALL_BUCKET", small)
    b = _post(proc, Bucket(key=_key(BLAST), partition=0), "b1", BLAST)
    b = _post(proc, b, "f1", FIRE, 1)
    assert len(b.incidents) == 2, "both in one key"
    fire = next(s.id for s in b.incidents if "f1" in s.post_ids)
    close = Action(id="c1", incident_id=fire, kind="close", by="值班员",
                   at=T0 + timedelta(minutes=2), reason="已处置")  # fmt: skip
    b = proc.on_action(b, close, close.at).bucket
    window = timedelta(seconds=proc.params.assign.window_s)
    left = T0 + timedelta(minutes=1) + window  # the closed one's last post + the window

    for minutes in (10, 60, 4 * 60):
        b = proc.on_tick(b, T0 + timedelta(minutes=minutes)).bucket
        assert fire in [s.id for s in b.incidents]
    res = proc.on_tick(b, T0 + timedelta(hours=5))
    assert [e.data["rule"] for e in res.events if e.kind == "deadline_breached"] == ["release"]
    b = proc.on_tick(res.bucket, left).bucket
    assert fire in [s.id for s in b.incidents], "kept up to the end of the window"
    b = proc.on_tick(b, left + timedelta(seconds=1)).bucket
    assert fire not in [s.id for s in b.incidents]
    assert proc.next_due(b) == min(s.next_due_at for s in b.incidents if s.next_due_at)
