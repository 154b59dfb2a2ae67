"""Weibo against a real local HTTP server: both layouts, every created_at form, paging,
long text, reposts, and the site's refusals."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from connectors.weibo import WeiboSource
from tests.connectors.conftest import FIXTURES, Reply, fail_then_stop, metric

BJ = timezone(timedelta(hours=8))


def json_reply(data: object, status: int = 200, **headers: str) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Reply(status, body, {"Content-Type": "application/json", **headers})


def card(i: int, created: str = "Sat Apr 18 20:00:00 +0800 2026", **extra: object) -> dict:
    mblog = {
        "id": str(i),
        "created_at": created,
        "text": f"微博{i}",
        "user": {"id": 1, "screen_name": "u"},
    }
    return {"card_type": 9, "mblog": {**mblog, **extra}}


def page(ids: list[int], since_id: int | None) -> dict:
    cards = [card(i) for i in ids]
    return {"ok": 1, "data": {"cards": cards, "cardlistInfo": {"since_id": since_id}}}


async def test_real_mobile_sample(http_server, make_runner, sink, shared_data: Path) -> None:
    raw = (shared_data / "samples" / "weibo_mweibocn_getIndex_dataabc_js.json").read_bytes()
    data = json.loads(raw)
    data["data"]["cardlistInfo"]["since_id"] = None  # one page only
    url = http_server.route("/api/container/getIndex", json_reply(data))
    runner = make_runner(WeiboSource("lo", url, long_text="keep"))
    sent = await runner.poll_once()
    reposts = [p for p in sink.posts if p.repost_of]
    assert sent == 10 + len(reposts)  # each repost's original is a post of its own
    first = next(p for p in sink.posts if p.id == "weibo:4806111732961615")
    assert first.published_at == datetime(2022, 8, 24, 22, 3, 13, tzinfo=BJ)
    assert first.author == "Lo娘嘀咕嘀咕" and first.author_id == "6074526225"
    assert first.author_followers == 434_000 and first.author_verified is True
    assert first.region == "浙江"
    assert first.comments == 68 and first.likes == 135 and first.reposts == 0
    assert first.text.startswith("🌟#今日话题#🌟\n-房间整理")
    assert "<" not in first.text
    assert first.url == "https://m.weibo.cn/status/M2yZDcqrZ"
    originals = {p.id for p in sink.posts} & {p.repost_of for p in reposts}
    assert originals == {p.repost_of for p in reposts}


async def test_real_pc_ajax_sample(http_server, make_runner, sink, shared_data: Path) -> None:
    item = json.loads(
        (shared_data / "samples" / "weibo_pc_ajax_mymblog_item_stablog.json").read_bytes()
    )["item"]
    url = http_server.route(
        "/ajax/statuses/mymblog", json_reply({"ok": 1, "data": {"list": [item], "since_id": ""}})
    )
    long_url = http_server.route(
        "/ajax/statuses/longtext",
        json_reply(
            {"ok": 1, "data": {"longTextContent": "【欧盟17国联手砸下1.2万亿】全文<br />第二段"}}
        ),
    )
    source = WeiboSource("pc", url, extend_url=long_url + "?id={mblogid}")
    assert source.layout == "pc"
    await make_runner(source).poll_once()
    repost = next(p for p in sink.posts if p.id == "weibo:4607741009594608")
    original = next(p for p in sink.posts if p.id == "weibo:4607667449893429")
    assert repost.repost_of == original.id
    assert repost.text.startswith("//@南山林雪萍 :虽然欧洲版")
    assert repost.url == "https://weibo.com/1645372340/K3fnuEfZK"
    assert repost.published_at == datetime(2021, 2, 23, 12, 28, 47, tzinfo=BJ)
    assert (repost.reposts, repost.comments, repost.likes) == (14, 12, 29)
    assert original.author == "智造圈" and original.author_verified is True
    # isLongText: the full text came from the longtext endpoint, asked by mblogid.
    assert original.text == "【欧盟17国联手砸下1.2万亿】全文\n第二段"
    assert http_server.hits("/ajax/statuses/longtext")[0].query == {"id": "K3dsQFvJr"}


async def test_every_created_at_form_counts_region_repost_long_text(
    http_server, make_runner, sink, clock
) -> None:
    url = http_server.route(
        "/api/container/getIndex", Reply(body=(FIXTURES / "weibo_forms.json").read_bytes())
    )
    extend = http_server.route(
        "/statuses/extend",
        json_reply(
            {"ok": 1, "data": {"longTextContent": "这是一条很长的微博，<br />全文在这里。"}}
        ),
    )
    await make_runner(WeiboSource("forms", url, extend_url=extend + "?id={id}")).poll_once()
    by_id = {p.id: p for p in sink.posts}
    times = [by_id[f"weibo:{5000000000000000 + i}"].published_at for i in range(1, 9)]
    assert times == [
        datetime(2022, 8, 24, 22, 3, 13, tzinfo=BJ),  # RFC-like
        datetime(2025, 9, 8, tzinfo=BJ),  # "09-08": after today's date, so last year
        datetime(2010, 6, 18, tzinfo=BJ),
        datetime(2026, 4, 19, 10, 0, tzinfo=BJ),  # 刚刚 = the injected now
        datetime(2026, 4, 19, 9, 55, tzinfo=BJ),  # 5分钟前
        datetime(2026, 4, 19, 7, 0, tzinfo=BJ),  # 3小时前
        datetime(2026, 4, 18, 12, 30, tzinfo=BJ),  # 昨天 12:30
        datetime(2026, 4, 19, 8, 0, tzinfo=BJ),  # 今天 08:00
    ]
    one = by_id["weibo:5000000000000001"]
    assert one.comments == 12_000 and one.author_followers == 434_000 and one.region == "四川"
    assert one.text == "第1条 测试微博 @某人\n雁江区"
    assert by_id["weibo:5000000000000002"].likes == 1_000_000
    assert by_id["weibo:5000000000000006"].author_followers == 120_000_000
    assert by_id["weibo:5000000000000004"].text == "这是一条很长的微博，\n全文在这里。"
    assert http_server.hits("/statuses/extend")[0].query == {"id": "5000000000000004"}
    repost = by_id["weibo:5000000000000005"]
    original = by_id["weibo:4999999999999999"]
    assert repost.repost_of == original.id
    assert original.reposts == 15_000 and original.author == "乐至发布" and original.region is None
    assert "weibo:5000000000000009" in by_id  # nested in a card_group
    assert all(p.observed_at == clock() for p in sink.posts)


async def test_long_text_failure_keeps_cut_text(http_server, make_runner, sink) -> None:
    url = http_server.route(
        "/api/container/getIndex", Reply(body=(FIXTURES / "weibo_forms.json").read_bytes())
    )
    extend = http_server.route("/statuses/extend", Reply(500, b"oops"))
    source = WeiboSource("forms", url, extend_url=extend + "?id={id}")
    runner = make_runner(source)
    await runner.poll_once()
    cut = next(p for p in sink.posts if p.id == "weibo:5000000000000004")
    assert cut.text.startswith("这是一条很长的微博，列表里只显示开头")
    assert source.long_text_failures == 1
    assert runner.health.note == "1 long texts kept cut (extend endpoint failed or per-page limit)"


async def test_paging_by_since_id_until_caught_up(http_server, make_runner, sink, store) -> None:
    pages = {None: page([30, 29], 28), "28": page([28, 27], 26), "26": page([26, 25], None)}
    url = http_server.route(
        "/api/container/getIndex", lambda s: json_reply(pages[s.query.get("since_id")])
    )
    runner = make_runner(WeiboSource("w", url))
    assert await runner.poll_once() == 6
    assert sink.ids == [f"weibo:{i}" for i in range(30, 24, -1)]
    assert [h.query.get("since_id") for h in http_server.hits("/api/container/getIndex")] == [
        None,
        "28",
        "26",
    ]
    # New posts on top: the next poll reads page one, meets a post already sent, and stops.
    pages[None] = page([32, 31, 30], 29)
    assert await runner.poll_once() == 2
    assert sink.ids[-2:] == ["weibo:32", "weibo:31"]
    assert len(http_server.hits("/api/container/getIndex")) == 4
    assert store.load("w") == {"cursor": None}


async def test_interrupted_sweep_resumes_from_cursor(http_server, make_runner, sink, store) -> None:
    pages = {None: page([30, 29], 28), "28": page([28, 27], 26), "26": page([26, 25], None)}
    url = http_server.route(
        "/api/container/getIndex", lambda s: json_reply(pages[s.query.get("since_id")])
    )
    from connectors.base import Schedule

    first = make_runner(WeiboSource("w", url), schedule=Schedule(max_pages=1, page_pause=0))
    await first.poll_once()
    assert store.load("w") == {"cursor": 28}
    # A new process (same store) goes on from the saved cursor: nothing skipped, nothing twice.
    second = make_runner(WeiboSource("w", url), schedule=Schedule(max_pages=5, page_pause=0))
    await second.poll_once()
    assert sink.ids == [f"weibo:{i}" for i in range(30, 24, -1)]


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (Reply(403, b"forbidden"), "refused", "HTTP 403"),
        (Reply(418, b"teapot"), "refused", "HTTP 418"),
        (Reply(429, b"slow down", {"Retry-After": "120"}), "refused", "retry after 120 s"),
        (Reply(502, b"bad gateway"), "http_status", "HTTP 502"),
        (Reply(503, b""), "http_status", "HTTP 503"),
        (
            Reply(200, b'{"ok":1,"data":{"cards":[{"card_type":9,"mblog":{"id":"1"'),
            "bad_payload",
            "truncated JSON",
        ),
        (
            Reply(
                200,
                "<html><body>系统繁忙，请稍后再试</body></html>".encode(),
                {"Content-Type": "text/html"},
            ),
            "bad_payload",
            "HTML page instead of JSON",
        ),
        (
            Reply(
                200,
                "<html><title>新浪通行证</title><a href='https://passport.weibo.com/'>登录</a></html>".encode(),
            ),
            "login_wall",
            "login page",
        ),
        (
            json_reply({"ok": -100, "url": "https://passport.weibo.com/sso/signin"}),
            "login_wall",
            "asks for a login",
        ),
        (json_reply({"ok": 0, "msg": "请求过于频繁"}), "refused", "ok=0: 请求过于频繁"),
    ],
)
async def test_refusals_give_clear_health(
    http_server, make_runner, registry, sink, reply, kind, words
) -> None:
    url = http_server.route("/api/container/getIndex", reply)
    runner = make_runner(WeiboSource("w", url))
    await fail_then_stop(runner)
    assert runner.health.ok is False
    assert runner.health.last_error_kind == kind
    assert words in runner.health.last_error
    assert metric(registry, "connector_errors_total", source="w", kind=kind) == 1
    assert metric(registry, "connector_up", source="w") == 0


async def test_redirect_to_passport_is_a_login_wall(http_server, make_runner) -> None:
    login = http_server.route("/passport/visitor", Reply(200, b"<html>visitor</html>"))
    url = http_server.route("/api/container/getIndex", Reply(302, headers={"Location": login}))
    runner = make_runner(WeiboSource("w", url))
    await fail_then_stop(runner)
    assert runner.health.last_error_kind == "login_wall"
    assert "redirected to a login page" in runner.health.last_error


async def test_retry_after_is_honoured_then_recovers(http_server, make_runner, sink, clock) -> None:
    answers = [Reply(429, b"", {"Retry-After": "90"}), json_reply(page([5, 4], None))]
    url = http_server.route("/api/container/getIndex", lambda s: answers.pop(0))
    runner = make_runner(WeiboSource("w", url))
    await runner.poll_with_retry()
    assert clock.slept and clock.slept[0] >= 90
    assert runner.health.ok is True and runner.health.consecutive_failures == 0
    assert sink.ids == ["weibo:5", "weibo:4"]


async def test_bad_status_goes_to_dead_letter_rest_delivered(
    http_server, make_runner, sink, registry
) -> None:
    data = page([3, 2], None)
    data["data"]["cards"].insert(1, card(99, created="明年某天"))
    url = http_server.route("/api/container/getIndex", json_reply(data))
    runner = make_runner(WeiboSource("w", url))
    assert await runner.poll_once() == 2
    assert sink.ids == ["weibo:3", "weibo:2"]
    assert "unrecognised Weibo created_at '明年某天'" in sink.dead[0].reason
    assert sink.dead[0].where.endswith("status 2")
    assert metric(registry, "connector_dead_letters_total", source="w", reason="bad_item") == 1



async def test_long_text_calls_are_paced_and_capped(http_server, make_runner, sink, clock) -> None:
    cut = "开头 ...<a href='/status/x'>全文</a>"
    data = page([5, 4, 3], None)
    for c in data["data"]["cards"]:
        c["mblog"].update(isLongText=True, text=cut)
    url = http_server.route("/api/container/getIndex", json_reply(data))
    extend = http_server.route(
        "/statuses/extend",
        lambda s: json_reply({"ok": 1, "data": {"longTextContent": f"全文{s.query['id']}"}}),
    )
    source = WeiboSource(
        "w", url, extend_url=extend + "?id={id}", long_text_limit=2, long_text_pause=3
    )
    runner = make_runner(source)
    await runner.poll_once()
    assert [p.text for p in sink.posts] == ["全文5", "全文4", "开头 ...全文"]
    assert [h.query["id"] for h in http_server.hits("/statuses/extend")] == ["5", "4"]
    assert clock.slept == [3]  # one pause between the two extend calls
    assert runner.health.note == "1 long texts kept cut (extend endpoint failed or per-page limit)"
