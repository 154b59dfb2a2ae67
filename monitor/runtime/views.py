"""Incident summaries for the CLI and the dashboard (labels in Simplified Chinese), the order
the dashboard lists them in, and its totals."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.domain.model import GRADE_RANKS, Grade
from monitor.domain.state import ClockView, IncidentState

# Officials read Beijing time; stored and exchanged times stay UTC with their offset.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

STATUS_LABELS = {"open": "待处置", "responding": "处置中", "closed": "已关闭", "merged": "已合并"}
# every status of monitor.domain.clocks.STATUSES
CLOCK_LABELS = {
    "running": "计时中", "met": "已按时完成", "breached": "已超时", "late": "超时后完成",
    "not_done": "关闭时未完成", "excluded": "已并入他案（不计）",
}  # fmt: skip
# What a stopped clock says was done, by rule (release → 已发布, press conference → 已召开).
DONE_LABELS = {"release": "已发布", "press_conference": "已召开", "follow_up": "已发布",
               "answer": "已回应"}  # fmt: skip
PENDING = frozenset({"running", "breached"})  # a clock still waiting for its answer
SOON = timedelta(hours=1)


def _clock(c: ClockView) -> dict[str, Any]:
    return {
        "id": c.id, "rule": c.rule, "label": c.label, "start": c.start.isoformat(),
        "deadline": c.deadline.isoformat(), "status": c.status,
        "status_label": CLOCK_LABELS.get(c.status, c.status),
        "done_label": DONE_LABELS.get(c.rule, "已完成"),
        "stopped_at": c.stopped_at.isoformat() if c.stopped_at else None,
    }  # fmt: skip


def next_deadline(s: IncidentState) -> datetime | None:
    """The nearest deadline still waiting for an answer (a breached one is the nearest)."""
    waiting = [c.deadline for c in s.clocks if c.status in PENDING]
    return min(waiting) if waiting and s.status.live else None


def incident_summary(s: IncidentState) -> dict[str, Any]:
    due = next_deadline(s)
    return {
        "id": s.id,
        "title": s.title,
        "category": s.category,
        "grade": s.grade.value,
        "grade_label": s.grade.label,
        "grade_why": {
            "fact": s.grades.fact_basis, "heat": s.grades.heat_basis,
            "manual": s.grades.manual_reason,
            "manual_grade": s.grades.manual.value if s.grades.manual else None,
        },
        "state": s.status.value,
        "state_label": STATUS_LABELS.get(s.status.value, s.status.value),
        "bodies": list(s.responsible.bodies),
        "level": s.responsible.level,
        "county": s.location.county,
        "town": s.location.town,
        "city": s.location.city,
        "province": s.location.province,
        "out_of_area": s.watch_only,
        "first_seen": s.first_seen.isoformat(),
        "last_seen": s.last_seen.isoformat(),
        "acknowledged_at": s.acknowledged_at.isoformat() if s.acknowledged_at else None,
        "merged_into": s.merged_into,
        "posts": s.heat.posts,
        "reach": s.heat.reach,
        "next_deadline": due.isoformat() if due else None,
        "clocks": [_clock(c) for c in s.clocks],
        "breaches": [f for f in s.fired if f.endswith(":breach")],
        "actions": [
            {"id": a.id, "kind": a.kind, "by": a.by, "at": a.at.isoformat(), "url": a.url,
             "channel": a.channel, "place": a.place, "reason": a.reason,
             "grade": a.grade.value if a.grade else None, "target": a.target,
             "post_ids": list(a.post_ids)}
            for a in s.actions
        ],
    }


def urgency_key(s: IncidentState) -> tuple[int, datetime, int, datetime]:
    """Live incidents first, by nearest deadline to the minute, grade I/II before others among
    equals (then graver first), then the oldest; incidents with no deadline after them."""
    due = next_deadline(s)
    minute = due.replace(second=0, microsecond=0) if due else s.first_seen
    severe = 0 if s.grade in (Grade.I, Grade.II) else 1
    rank = (0 if due else 1) if s.status.live else 2
    return rank, minute, severe * 10 - GRADE_RANKS[s.grade], s.first_seen


def by_urgency(states: Iterable[IncidentState]) -> list[IncidentState]:
    return sorted(states, key=urgency_key)


def totals(states: Sequence[IncidentState], now: datetime) -> dict[str, Any]:
    """What the top of the dashboard counts, over the incidents the reader may see: open ones by
    grade (in the jurisdiction), clocks breached today (Beijing day), deadlines in the next
    hour, and out-of-area incidents kept apart."""
    today = now.astimezone(DISPLAY_TZ).date()
    live = [s for s in states if s.status.live]
    local_live = [s for s in live if not s.watch_only]
    clocks = [c for s in local_live for c in s.clocks]
    return {
        "open": len(local_live),
        "open_by_grade": {g.value: sum(1 for s in local_live if s.grade is g) for g in Grade},
        "breaches_today": sum(
            1 for s in states for c in s.clocks
            if c.status in ("breached", "late")
            and c.deadline.astimezone(DISPLAY_TZ).date() == today
        ),
        "due_next_hour": sum(1 for c in clocks if c.status == "running"
                             and now <= c.deadline <= now + SOON),
        "breached_open": sum(1 for c in clocks if c.status == "breached"),
        "out_of_area": sum(1 for s in live if s.watch_only),
        "now": now.isoformat(),
    }  # fmt: skip


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
