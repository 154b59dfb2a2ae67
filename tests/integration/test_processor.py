"""The edge processor the worker runs, without Faust: buckets, redelivery, actions, ticks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.config import load_config
from monitor.domain.actions import ActionError
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Action
from streams.processor import Bucket, Processor, UnknownIncident, routing_router
from tests.integration.helpers import BLAST, FIRE, T0, classifier, post


@pytest.fixture(scope="module")
def proc() -> Processor:
    cfg = load_config()
    return Processor(IncidentParams.from_mapping(cfg.clocks), cfg.jurisdiction.code,
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
    with pytest.raises(ActionError, match="URL"):
        proc.on_action(b, no_url, T0)
    ok = Action(id="a3", incident_id=inc, kind="acknowledge", by="值班员", at=T0)
    res = proc.on_action(b, ok, T0)
    assert res.changed[inc].acknowledged_at == T0
    assert proc.on_action(res.bucket, ok, T0).events == []  # idempotent by id
