"""Pure parsing: every Weibo created_at form against a pinned `now`, counts, HTML, dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.parsing import (
    DateError,
    html_to_text,
    parse_cn_datetime,
    parse_count,
    parse_weibo_time,
    stable_id,
)

BJ = timezone(timedelta(hours=8))
NOW = datetime(2026, 4, 19, 2, 0, tzinfo=UTC)  # 2026-04-19 10:00 Beijing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Wed Aug 24 22:03:13 +0800 2022", datetime(2022, 8, 24, 22, 3, 13, tzinfo=BJ)),
        ("09-08", datetime(2025, 9, 8, tzinfo=BJ)),  # later than today: last year
        ("04-18", datetime(2026, 4, 18, tzinfo=BJ)),  # this year
        ("04-18 21:05", datetime(2026, 4, 18, 21, 5, tzinfo=BJ)),
        ("2010-06-18", datetime(2010, 6, 18, tzinfo=BJ)),
        ("刚刚", datetime(2026, 4, 19, 10, 0, tzinfo=BJ)),
        ("30秒前", datetime(2026, 4, 19, 9, 59, 30, tzinfo=BJ)),
        ("5分钟前", datetime(2026, 4, 19, 9, 55, tzinfo=BJ)),
        ("3小时前", datetime(2026, 4, 19, 7, 0, tzinfo=BJ)),
        ("昨天 12:30", datetime(2026, 4, 18, 12, 30, tzinfo=BJ)),
        ("今天 08:00", datetime(2026, 4, 19, 8, 0, tzinfo=BJ)),
        ("前天 23:59", datetime(2026, 4, 17, 23, 59, tzinfo=BJ)),
    ],
)
def test_every_weibo_created_at_form(raw: str, expected: datetime) -> None:
    got = parse_weibo_time(raw, NOW)
    assert got == expected
    assert got.tzinfo is not None


def test_yesterday_is_beijing_yesterday_not_utc() -> None:
    # 2026-04-18 17:00 UTC is already 04-19 01:00 in Beijing: 昨天 means the 18th.
    now = datetime(2026, 4, 18, 17, 0, tzinfo=UTC)
    assert parse_weibo_time("昨天 12:30", now) == datetime(2026, 4, 18, 12, 30, tzinfo=BJ)


def test_today_at_a_time_still_ahead_is_taken_as_now() -> None:
    # 00:10 in Beijing: "今天 08:00" cannot be a post already made, so it is not in the future
    now = datetime(2026, 4, 18, 16, 10, tzinfo=UTC)
    assert parse_weibo_time("今天 08:00", now) == now


def test_relative_time_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_weibo_time("刚刚", datetime(2026, 4, 19))  # noqa: DTZ001


@pytest.mark.parametrize("raw", ["", "明天", "13-45", "Wed Foo 24 22:03:13 +0800 2022"])
def test_unknown_created_at_is_a_clear_error(raw: str) -> None:
    with pytest.raises(DateError, match="unrecognised Weibo created_at"):
        parse_weibo_time(raw, NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (43, 43), ("43", 43), ("43.4万", 434_000), ("178.2万", 1_782_000), ("1.2亿", 120_000_000),
        ("100万+", 1_000_000), ("1,234", 1234), (3.0, 3),
        (None, None), ("", None), ("很多", None), (True, None),
    ],
)  # fmt: skip
def test_counts(raw: object, expected: int | None) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026年04月18日 23:26", datetime(2026, 4, 18, 23, 26, tzinfo=BJ)),
        ("2026-04-18 23:26:01", datetime(2026, 4, 18, 23, 26, 1, tzinfo=BJ)),
        ("2026/4/8", datetime(2026, 4, 8, tzinfo=BJ)),
        ("2026-04-18T15:26:01Z", datetime(2026, 4, 18, 15, 26, 1, tzinfo=UTC)),
        ("2026-04-18T23:26:01+08:00", datetime(2026, 4, 18, 23, 26, 1, tzinfo=BJ)),
    ],
)
def test_chinese_dates(raw: str, expected: datetime) -> None:
    assert parse_cn_datetime(raw) == expected


def test_html_to_text_keeps_breaks_and_decodes_entities() -> None:
    html = "第一行<br />第二行 &amp; <a href='/n/某人'>@某人</a><span class='url-icon'><img alt='[花]'></span>"
    assert html_to_text(html) == "第一行\n第二行 & @某人"
    assert html_to_text("纯文本") == "纯文本"


def test_stable_id_is_stable_and_distinct() -> None:
    assert stable_id("http://a", "标题") == stable_id("http://a", "标题")
    assert stable_id("http://a", "标题") != stable_id("http://a", "标题2")
