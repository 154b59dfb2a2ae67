"""Pure helpers shared by the connectors: dates, counts and HTML text.

Nothing here reads the clock: relative dates ("5分钟前", "昨天 12:30") are resolved against the
`now` the caller passes in, so a replay or a test pins the result.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone

from selectolax.lexbor import LexborHTMLParser

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_REL_UNITS = {"秒": "seconds", "分钟": "minutes", "分": "minutes", "小时": "hours", "天": "days"}
_RELATIVE = re.compile(r"^(\d+)\s*(秒|分钟|分|小时|天)前$")
_DAY_TIME = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_CN_DATETIME = re.compile(
    r"^(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2}))?\s*秒?)?"
    r"\s*([+-]\d{2}:?\d{2}|Z)?$"
)
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)\s*(万|亿|w|W|k|K)?\+?$")
_COUNT_SCALE = {
    None: 1,
    "万": 10_000,
    "w": 10_000,
    "W": 10_000,
    "亿": 100_000_000,
    "k": 1_000,
    "K": 1_000,
}
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>", re.IGNORECASE)
_TAG = re.compile(r"<[a-zA-Z/!]")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_NEWLINES = re.compile(r"\s*\n\s*")


class DateError(ValueError):
    """A date string in none of the forms a source is known to send."""


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


def _offset(text: str | None) -> timezone:
    if not text:
        return CHINA_TZ  # Chinese sites omit the offset; they mean Beijing time.
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_rfc_weibo(text: str) -> datetime | None:
    """'Wed Aug 24 22:03:13 +0800 2022' (Weibo's API form); None if not that form."""
    parts = text.split()
    if len(parts) != 6 or len(parts[4]) != 5 or parts[4][0] not in "+-":
        return None
    month = _MONTHS.get(parts[1].lower())
    clock = parts[3].split(":")
    if month is None or len(clock) != 3:
        return None
    try:
        return datetime(
            int(parts[5]),
            month,
            int(parts[2]),
            int(clock[0]),
            int(clock[1]),
            int(clock[2]),
            tzinfo=_offset(parts[4]),
        )
    except ValueError:
        return None


def parse_cn_datetime(text: str) -> datetime | None:
    """'2026年04月18日 23:26', '2026-04-18 23:26:01', '2010-06-18' → aware (default +08:00)."""
    m = _CN_DATETIME.match(text.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, off = m.groups()
    try:
        return datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=_offset(off)
        )
    except ValueError:
        return None


def _relative(text: str, local_now: datetime) -> datetime | None:
    if text == "刚刚":
        return local_now
    m = _RELATIVE.match(text)
    if m:
        return local_now - timedelta(**{_REL_UNITS[m.group(2)]: int(m.group(1))})
    m = _DAY_TIME.match(text)
    if m:
        back = {"今天": 0, "昨天": 1, "前天": 2}[m.group(1)]
        day = local_now.date() - timedelta(days=back)
        when = datetime.combine(day, datetime.min.time(), CHINA_TZ).replace(
            hour=int(m.group(2)), minute=int(m.group(3))
        )
        # Weibo writes "今天 HH:MM" only for a time already past; one ahead of `now` means the
        # clocks disagree, and a post from the future would move the event-time watermark on
        return min(when, local_now)
    return None


def _month_day(text: str, local_now: datetime) -> datetime | None:
    m = _MONTH_DAY.match(text)
    if m is None:
        return None
    month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
    try:
        when = datetime(local_now.year, month, day, hour, minute, tzinfo=CHINA_TZ)
    except ValueError:
        return None
    # "09-08" means this year, unless that would be in the future (a post from last December
    # read in January).
    if when > local_now + timedelta(days=1):
        when = when.replace(year=when.year - 1)
    return when


def parse_weibo_time(text: str, now: datetime) -> datetime:
    """Every `created_at` form Weibo sends, resolved against `now`; raises DateError."""
    _require_aware(now)
    raw = text.strip()
    local_now = now.astimezone(CHINA_TZ)
    for parse in (
        lambda: parse_rfc_weibo(raw),
        lambda: _relative(raw, local_now),
        lambda: _month_day(raw, local_now),
        lambda: parse_cn_datetime(raw),
    ):
        when = parse()
        if when is not None:
            return when
    raise DateError(f"unrecognised Weibo created_at {text!r}")


def parse_count(value: object) -> int | None:
    """43 / "43" / "43.4万" / "1.2亿" / "100万+" / "1,234" → int; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, str):
        return None
    m = _COUNT.match(value.strip().replace(",", ""))
    if m is None:
        return None
    return round(float(m.group(1)) * _COUNT_SCALE[m.group(2)])


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, line breaks kept, entities decoded, spaces squeezed."""
    if not html:
        return ""
    if _TAG.search(html) is None and "&" not in html:
        return _clean(html)
    marked = _BREAK.sub("\n", html)
    root = LexborHTMLParser(marked).body
    text = root.text(separator="") if root is not None else ""
    return _clean(text)


def _clean(text: str) -> str:
    return _NEWLINES.sub("\n", _SPACES.sub(" ", text)).strip()


def stable_id(*parts: str | None) -> str:
    """A short id that is the same on every run for the same inputs (feeds with no guid)."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()
    return digest[:24]
