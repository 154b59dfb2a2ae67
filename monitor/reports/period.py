"""Report periods as officials name them: a calendar month or a range of days, in Beijing time.
Every refusal names the option and the value and says what is expected, in Chinese."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from monitor.domain.compliance import Period
from monitor.runtime.views import DISPLAY_TZ

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_DAYS = 3660  # ten years: anything longer is a typo
YEARS = (2000, 2100)  # a period outside these is a typo (and its previous period must exist)


class PeriodError(ValueError):
    """A period that cannot be reported on; the message is for the reader (Chinese)."""


def month(text: str) -> Period:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise PeriodError(f"--month {text!r} 不是有效月份：应为 YYYY-MM，如 2026-10")
    if not YEARS[0] <= int(m.group(1)) < YEARS[1]:
        raise PeriodError(f"--month {text!r} 超出范围：年份须在 {YEARS[0]} 至 {YEARS[1] - 1} 之间")
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=DISPLAY_TZ)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=DISPLAY_TZ)
    return Period(start, end)


def previous_month(period: Period) -> Period:
    """The calendar month before a `month()` period."""
    start = period.start.astimezone(DISPLAY_TZ)
    year, mon = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
    return Period(datetime(year, mon, 1, tzinfo=DISPLAY_TZ), period.start)


def _moment(option: str, text: str, end: bool) -> datetime:
    """A date (the whole day: `--to` includes it) or a time; no zone means Beijing time."""
    t = _parse(option, text, end)
    if not YEARS[0] <= t.astimezone(DISPLAY_TZ).year <= YEARS[1]:
        raise PeriodError(f"{option} {text!r} 超出范围：须在 {YEARS[0]} 至 {YEARS[1]} 年之间")
    return t


def _parse(option: str, text: str, end: bool) -> datetime:
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise PeriodError(f"{option} {text!r} 超出范围：须在 {YEARS[0]} 至 {YEARS[1]} 年之间")
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), DISPLAY_TZ)
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise PeriodError(
            f"{option} {text!r} 不是有效日期或时间：应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=DISPLAY_TZ)


def between(start: str, end: str) -> Period:
    a, b = _moment("--from", start, end=False), _moment("--to", end, end=True)
    if b <= a:
        raise PeriodError(f"--to {end!r} 不晚于 --from {start!r}：结束须在开始之后")
    if b - a > timedelta(days=MAX_DAYS):
        raise PeriodError(f"--from {start!r} 至 --to {end!r} 超过 {MAX_DAYS} 天，请缩短统计期")
    return Period(a, b)


def last_days(now: datetime, days: int) -> Period:
    if not 1 <= days <= MAX_DAYS:
        raise PeriodError(f"days={days} 超出范围：应为 1 至 {MAX_DAYS} 天")
    return Period(now - timedelta(days=days), now)
