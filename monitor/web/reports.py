"""The leaders' view's figures (`GET /api/reports/compliance`): the same report as `monitor
report`, computed by monitor.domain.compliance from the incidents the web process holds (its
read model) and the store's breach events, for the last N days or a range of days."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from monitor.domain.compliance import Period, Report, compliance
from monitor.domain.permissions import UserRole, report_scope
from monitor.domain.state import IncidentState
from monitor.reports import load, render
from monitor.reports.period import PeriodError, between, last_days
from monitor.store import Store

DEFAULT_DAYS = 30
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "html": "text/html; charset=utf-8"}  # fmt: skip


class ReportRefused(ValueError):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def period_of(now: datetime, days: int | None, start: str | None, end: str | None) -> Period:
    try:
        if start is not None or end is not None:
            if days is not None:
                raise PeriodError("days 与 from/to 只能二选一")
            if start is None or end is None:
                raise PeriodError("from 与 to 须同时给出（YYYY-MM-DD，北京时间，含 to 当天）")
            return between(start, end)
        return last_days(now, days if days is not None else DEFAULT_DAYS)
    except PeriodError as exc:
        message = str(exc).replace("--from", "from").replace("--to", "to")
        raise ReportRefused(422, message, "days" if days is not None else "from") from None


def scope(role: UserRole, own: str | None, asked: str | None, bodies: list[str]) -> str | None:
    body, refusal = report_scope(role, own, asked)
    if refusal is not None:
        raise ReportRefused(403, refusal.zh, "body")
    if asked is not None and asked not in bodies:
        raise ReportRefused(422, f"未知单位：{asked}（须为城市配置中的责任单位）", "body")
    return body


def build(
    store: Store, states: list[IncidentState], period: Period, now: datetime, body: str | None
) -> Report:
    return compliance(load.cases(states, load.breach_events(store), now), period, now, body)


def rendered(report: Report, fmt: str) -> tuple[bytes | dict[str, Any], str]:
    if fmt == "csv":
        return render.as_csv(report).encode("utf-8-sig"), MEDIA["csv"]
    if fmt == "html":
        return render.as_html(report).encode(), MEDIA["html"]
    return render.as_json(report), MEDIA["json"]
