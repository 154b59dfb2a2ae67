"""Deliveries in the incident audit log, beside the departments' answers: one row per message
a channel accepted, with when, through which channel, to whom, and the service's answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from monitor.notify.delivery import OnSent
from monitor.notify.outbox import OutboxRow
from monitor.store import Store

WHO = "system:notifier"


def audit_deliveries(store: Store) -> OnSent:
    def write(rows: Sequence[OutboxRow], now: datetime, answer: str) -> None:
        for row in rows:
            message = json.loads(row.message)
            to = [r.get("name") for r in json.loads(row.recipients)]
            detail = {"key": row.key, "channel": row.channel, "to": to, "answer": answer,
                      "title": message.get("title"), "clock": message.get("clock")}  # fmt: skip
            store.audit(WHO, f"notify:{message['step']}", row.incident_id, detail, now=now)

    return write
