"""An incident's story in time order, in Chinese: what happened, which clock, which step of
the ladder, who was told through which channel, who answered from where.

Built from the store's events (event time) and the audit log (answers and deliveries, with
when they were recorded), sorted by time, so a warning at 02:14 comes before a delivery at
02:44 whatever order the rows were written in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from monitor.domain.model import Grade
from monitor.domain.permissions import RULES
from monitor.notify.message import step_label
from monitor.runtime.views import local

# action kinds' labels are the permissions table's (one list of kinds); sharing is the web's
KIND_LABELS = {k.value: rule.label for k, rule in RULES.items()} | {
    "share": "共享给单位", "unshare": "取消共享",
}  # fmt: skip


def _grade(value: object) -> str:
    try:
        g = Grade(str(value))
    except ValueError:
        return str(value)
    return f"{g.value}级（{g.label}）"


def _minutes(seconds: object) -> str:
    s = int(seconds) if isinstance(seconds, int | float) else 0
    h, m = divmod(s // 60, 60)
    return f"{h}小时{m}分" if h and m else f"{h}小时" if h else f"{m}分钟"


def _when(iso: object) -> str:
    return local(iso) if isinstance(iso, str) else "—"


def describe_event(e: Mapping[str, Any]) -> dict[str, Any]:
    kind, data = e["kind"], e.get("data") or {}
    clock = data.get("label")
    item: dict[str, Any] = {"at": e["at"], "type": kind, "clock": clock}
    if kind == "opened":
        origin = f"（拆分自 {data['split_from']}）" if data.get("split_from") else ""
        item["text"] = f"事件生成：{_grade(data.get('grade'))}{origin}"
    elif kind == "assigned":
        source = data.get("source") or "来源不明"
        item["text"] = f"收录帖子 {data.get('post_id')}（{source}）"
    elif kind == "graded":
        way = "上调" if data.get("direction") == "up" else "下调"
        item["text"] = (f"级别{way}：{_grade(data.get('from'))} → {_grade(data.get('to'))}"
                        f"（{data.get('cause', '')}）")  # fmt: skip
    elif kind == "updated":
        place = "".join(p for p in (data.get("county"), data.get("town")) if p)
        item["text"] = f"地点更新：{place or '—'}；责任单位 {'、'.join(data.get('bodies') or [])}"
    elif kind == "deadline_warning":
        item["text"] = (f"时限预警：{clock}，距截止 {_minutes(data.get('before_s'))}"
                        f"（截止 {_when(data.get('deadline'))}）")  # fmt: skip
    elif kind == "deadline_breached":
        item["text"] = f"已超时：{clock}（截止 {_when(data.get('deadline'))}）"
    elif kind == "unacknowledged":
        item["text"] = "事件生成后无人确认收到，已升级提醒"
    elif kind == "action_recorded":
        label = KIND_LABELS.get(str(data.get("action")), str(data.get("action")))
        item["text"] = f"登记处置：{label} · {data.get('by', '')}"
        item["who"] = data.get("by")
    elif kind == "closed":
        item["text"] = f"事件关闭 · {data.get('by', '')}"
    elif kind == "merged":
        item["text"] = f"已并入事件 {data.get('into')}"
    elif kind == "split":
        moved = len(data.get("post_ids") or [])
        item["text"] = f"拆出 {moved} 条帖子为新事件 {data.get('new_incident')}"
    else:
        item["text"] = kind
    return item


def describe_audit(
    row: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """`labels`: clock rule → its Chinese label (a delivery names the rule)."""
    what: str = row["what"]
    detail = row["detail"]
    if isinstance(detail, str):
        detail = json.loads(detail or "{}")
    if what.startswith("notify:"):
        step = what.split(":", 1)[1]
        to = "、".join(str(t) for t in detail.get("to") or [] if t) or "—"
        channel = detail.get("channel") or "—"
        clock = detail.get("clock")
        clock = (labels or {}).get(clock, clock) if clock else None
        about = f"（{clock}）" if clock else ""
        return {
            "at": row["at"], "type": "notify", "step": step, "clock": clock,
            "channel": channel, "to": detail.get("to") or [],
            "text": f"{step_label(step)}{about}：经「{channel}」通知 {to}",
        }  # fmt: skip
    if what.startswith("act:") or what in ("share", "unshare"):
        kind = what.split(":", 1)[-1]
        source = detail.get("source")
        where = f"，来自 {source}" if source else ""
        extra = detail.get("body") or detail.get("url") or detail.get("reason") or ""
        return {
            "at": row["at"], "type": "audit", "who": row["who"],
            "text": f"{row['who']} 提交「{KIND_LABELS.get(kind, kind)}」{extra}{where}",
        }  # fmt: skip
    return None


def timeline(
    events: Iterable[Mapping[str, Any]],
    audit: Iterable[Mapping[str, Any]],
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Events and audit rows, described, oldest first (stable for equal times)."""
    items = [describe_event(e) for e in events]
    items += [d for d in (describe_audit(r, labels) for r in audit) if d is not None]
    return sorted(items, key=lambda i: datetime.fromisoformat(i["at"]))
