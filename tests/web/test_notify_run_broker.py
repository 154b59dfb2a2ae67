"""`monitor notify run --broker`: the scaled-out notifier fills its outbox from the
`notifications` topic and sends each message once, as its own process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitor.domain.outbox import intents_for
from monitor.notify.bootstrap import create_notifier
from monitor.runtime.producer import ensure_topics, send_all
from monitor.topics import Topic, topic
from streams.records import encoder
from tests.web.conftest import BLAST, open_incident

pytestmark = pytest.mark.broker


async def test_notify_run_with_broker_drains_the_topic(broker: Any, tmp_path: Path) -> None:
    prefix = f"n{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.url, prefix, 2)
    blast, events = open_incident("p1", BLAST, datetime.now(UTC) - timedelta(minutes=5))
    intents = intents_for(blast, events)
    assert intents
    records = [(n.incident_id.encode(), encoder.encode(n)) for n in intents]
    await send_all(broker.url, topic(Topic.NOTIFICATIONS, prefix), records)

    db = f"sqlite:///{tmp_path / 'notify.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "notify", "run", "--db", db, "--dry-run",
         "--broker", broker.url, "--prefix", prefix, "--interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        outbox = create_notifier(db, CollectorRegistry(), dry_run=True).outbox
        want = {n.key for n in intents}
        deadline = asyncio.get_running_loop().time() + 40
        while True:
            rows = outbox.all() if Path(tmp_path / "notify.db").exists() else []
            if {r.message_key for r in rows} >= want and all(r.status == "sent" for r in rows):
                break
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert asyncio.get_running_loop().time() < deadline, f"outbox: {rows}"
            await asyncio.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode()
    assert len(rows) == len({r.key for r in rows})  # one row, one send, per message
