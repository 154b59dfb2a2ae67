"""SIGKILL in the middle of a send, then a restart: nothing is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from monitor.notify.config import load_ladder
from monitor.notify.outbox import INFLIGHT, SENT, UNCERTAIN
from tests.notify.conftest import FakeClock, Services, build_notifier, metric, write_ladder
from tests.notify.test_delivery import accepted_titles, opened

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("slow", "channel", "after_restart"),
    [
        ("feishu", "departments-feishu", UNCERTAIN),  # no idempotency key: not resent, flagged
        ("hook", "sms-gateway", SENT),  # receiver drops the repeated key: resent safely
    ],
)
async def test_sigkill_mid_send_then_restart_sends_no_duplicate(
    services: Services, tmp_path: Path, slow: str, channel: str, after_restart: str
) -> None:
    clock = FakeClock(datetime.now(UTC))
    for name in ("wecom", "ding", "feishu", "hook"):
        getattr(services, name).service.clock = lambda: datetime.now(UTC)
    ladder = write_ladder(tmp_path / "ladder.yaml", services)
    db = tmp_path / "outbox.db"
    engine = create_engine(f"sqlite:///{db}")
    first = build_notifier(load_ladder(ladder), engine, clock)
    first.submit(opened(clock))
    outbox = first.outbox

    fake = getattr(services, slow).service
    fake.hold = threading.Event()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.notify.sender_proc", str(db), str(ladder)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert await _wait(fake.arrived), "the sender never reached the slow service"
        # Let the other channels finish, so the kill lands while only the slow send is open.
        await _wait_for(lambda: {r.channel for r in outbox.all() if r.status != SENT} == {channel})
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    fake.hold.set()  # the service now processes the request the dead sender made
    await _wait_for(lambda: len(fake.accepted) == 1)

    reg = CollectorRegistry()
    restarted = build_notifier(load_ladder(ladder), engine, clock, reg)
    assert [r.channel for r in restarted.outbox.inflight()] == [channel]
    restarted.recover()
    for _ in range(3):
        await restarted.run_once()

    rows = {r.channel: r for r in restarted.outbox.all() if not r.key.startswith("alert/")}
    assert rows[channel].status == after_restart
    assert {r.status for c, r in rows.items() if c != channel} == {SENT}
    assert len(fake.accepted) == 1  # the one delivery: never twice
    for other in {"wecom", "ding", "feishu", "hook"} - {slow}:
        incident_msgs = [
            t for t in accepted_titles(services, other) if t.startswith("【新舆情事件】")
        ]
        assert len(incident_msgs) == 1, other
    uncertain_alerts = [
        t for t in accepted_titles(services, "wecom") if t.startswith("【通知送达状态不明】")
    ]
    if after_restart == UNCERTAIN:
        assert uncertain_alerts == ["【通知送达状态不明】测试事件000号（渠道：departments-feishu）"]
        assert metric(reg, "yuqing_notify_uncertain_total", channel=channel) == 1
    else:
        assert uncertain_alerts == []
        assert len(fake.received) == 2  # resent with its key; the gateway answered 409
    assert all(r.status != INFLIGHT for r in restarted.outbox.all())


async def _wait(event: threading.Event, timeout: float = 30) -> bool:
    import asyncio

    return await asyncio.to_thread(event.wait, timeout)


async def _wait_for(cond: object, timeout: float = 10) -> None:
    import asyncio

    assert callable(cond)
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")
