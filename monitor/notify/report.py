"""Deliveries of one incident as the incident page shows them: what was sent, what quiet hours
hold and until when, what failed or was dropped as stale.

    views = delivery_views(outbox.for_incident(incident_id), now)

One entry per outbox row (a notification to one channel's recipients). `state`:
    sent        delivered (`sent_at`)
    held        quiet hours hold it until `until`
    pending     due, waiting for the sender's next pass
    retrying    a send failed; next attempt at `until`
    sending     claimed, in flight
    failed      given up (`error`)
    uncertain   cut off by a crash mid-send, not resent: someone must check
    superseded  a stale warning, not sent (`error` says why)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitor.notify.message import step_label
from monitor.notify.outbox import (
    FAILED,
    INFLIGHT,
    PENDING,
    SENT,
    SUPERSEDED,
    UNCERTAIN,
    OutboxRow,
)

LIMIT = 50  # newest rows shown; the audit log keeps every delivery
LABELS = {
    "sent": "已发送", "held": "静默时段暂缓", "pending": "待发送", "retrying": "发送失败，重试中",
    "sending": "发送中", "failed": "发送失败", "uncertain": "送达状态不明，请人工核实",
    "superseded": "已过时，未发送",
}  # fmt: skip
_FIXED = {SENT: "sent", FAILED: "failed", UNCERTAIN: "uncertain", SUPERSEDED: "superseded",
          INFLIGHT: "sending"}  # fmt: skip


def state_of(row: OutboxRow, now: datetime) -> str:
    if row.status in _FIXED:
        return _FIXED[row.status]
    assert row.status == PENDING, row.status
    if row.next_attempt_at <= now:
        return "pending"
    if row.key.endswith("/quiet") and row.attempts == 0:
        return "held"
    return "retrying"


def delivery_views(rows: Sequence[OutboxRow], now: datetime) -> list[dict[str, Any]]:
    out = []
    for row in list(rows)[-LIMIT:]:
        msg = json.loads(row.message)
        state = state_of(row, now)
        waiting = state in ("held", "retrying")
        out.append({
            "step": msg.get("step"), "step_label": step_label(msg.get("step")),
            "clock": msg.get("clock_label") or msg.get("clock"),
            "channel": row.channel,
            "to": [r.get("name") for r in json.loads(row.recipients)],
            "state": state, "state_label": LABELS[state],
            "queued_at": row.created_at.isoformat(),
            "until": row.next_attempt_at.isoformat() if waiting else None,
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "error": row.last_error if state in ("failed", "retrying", "superseded") else None,
        })  # fmt: skip
    return out
