"""Incident summaries for the CLI and the status page (labels in Simplified Chinese)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain.state import IncidentState

# Officials read Beijing time; stored and exchanged times stay UTC with their offset.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

STATUS_LABELS = {"open": "待处置", "responding": "处置中", "closed": "已关闭", "merged": "已合并"}
CLOCK_LABELS = {
    "running": "计时中", "met": "已按时完成", "breached": "已超时", "late": "超时后完成",
}  # fmt: skip


def incident_summary(s: IncidentState) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "category": s.category,
        "grade": s.grade.value,
        "grade_label": s.grade.label,
        "state": s.status.value,
        "state_label": STATUS_LABELS.get(s.status.value, s.status.value),
        "bodies": list(s.responsible.bodies),
        "level": s.responsible.level,
        "county": s.location.county,
        "first_seen": s.first_seen.isoformat(),
        "posts": s.heat.posts,
        "clocks": [
            {
                "id": c.id, "rule": c.rule, "label": c.label, "deadline": c.deadline.isoformat(),
                "status": c.status, "status_label": CLOCK_LABELS.get(c.status, c.status),
                "stopped_at": c.stopped_at.isoformat() if c.stopped_at else None,
            }
            for c in s.clocks
        ],
        "breaches": [f for f in s.fired if f.endswith(":breach")],
        "actions": [
            {"id": a.id, "kind": a.kind, "by": a.by, "at": a.at.isoformat(), "url": a.url}
            for a in s.actions
        ],
    }


def render_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "暂无事件"
    lines = []
    for r in rows:
        clocks = "；".join(
            f"{c['label']} {local(c['deadline'])} {c['status_label']}" for c in r["clocks"]
        )
        lines.append(
            f"{r['id']}  {r['grade']}级({r['grade_label']})  {r['state_label']}  "
            f"{r['title'][:30]}\n    责任单位：{'、'.join(r['bodies']) or '—'}\n"
            f"    时限：{clocks or '—'}  帖子数：{r['posts']}"
        )
    return "\n".join(lines)


def local(iso: str) -> str:
    """An ISO time as Beijing wall time, to the minute: 2026-11-25 22:24."""
    return datetime.fromisoformat(iso).astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")
