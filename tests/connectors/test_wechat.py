"""WeChat official accounts: app_msg_list JSON, freq control, paging, and a bridge feed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from connectors.base import Schedule
from connectors.rss import RssSource
from connectors.wechat import WechatSource
from tests.connectors.conftest import FIXTURES, Reply, fail_then_stop, metric

BJ = timezone(timedelta(hours=8))


def json_reply(data: object) -> Reply:
    return Reply(
        body=json.dumps(data, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
    )


def article(n: int) -> dict:
    return {
        "aid": f"{n}_1",
        "appmsgid": n,
        "itemidx": 1,
        "title": f"通报{n}",
        "digest": f"摘要{n}",
        "link": f"http://mp.weixin.qq.com/s?__biz=QkJC&amp;mid={n}&amp;idx=1",
        "create_time": 1776500000 + n,
    }


def listing(ns: list[int]) -> dict:
    return {"base_resp": {"ret": 0, "err_msg": "ok"}, "app_msg_list": [article(n) for n in ns]}


async def test_real_sample(http_server, make_runner, sink, shared_data: Path) -> None:
    body = (shared_data / "samples" / "wechat_mp_appmsg_list_ex_trganda.json").read_bytes()
    url = http_server.route("/cgi-bin/appmsg", Reply(body=body))
    await make_runner(
        WechatSource("sec", url, account="安全动态", biz="MzA5NDYyNDI0MA==")
    ).poll_once()
    (post,) = sink.posts
    assert post.id == "wechat:2651958330_1"
    assert post.title == "每日安全动态推送(04-02)"
    assert post.text.startswith("PHP Supply Chain Attack on PEAR")
    assert post.published_at == datetime.fromtimestamp(1648888670, BJ)
    assert post.url.startswith("http://mp.weixin.qq.com/s?__biz=MzA5NDYyNDI0MA==&mid=2651958330")
    assert post.author == "安全动态" and post.author_id == "MzA5NDYyNDI0MA=="


async def test_paging_by_begin_and_params(http_server, make_runner, sink) -> None:
    all_items = list(range(20, 8, -1))

    def handler(seen):
        begin, count = int(seen.query["begin"]), int(seen.query["count"])
        return json_reply(listing(all_items[begin : begin + count]))

    url = http_server.route("/cgi-bin/appmsg", handler)
    source = WechatSource(
        "acc",
        url + "?action=list_ex&type=9",
        params={"fakeid": "QkJC", "token": "t0k"},
        page_size=5,
    )
    await make_runner(source).poll_once()
    assert sink.ids == [f"wechat:{n}_1" for n in all_items]
    hits = http_server.hits("/cgi-bin/appmsg")
    assert [h.query["begin"] for h in hits] == ["0", "5", "10"]
    assert hits[0].query["fakeid"] == "QkJC" and hits[0].query["action"] == "list_ex"
    assert sink.posts[0].url == "http://mp.weixin.qq.com/s?__biz=QkJC&mid=20&idx=1"


async def test_freq_control_backs_off_then_recovers(
    http_server, make_runner, sink, clock, registry
) -> None:
    answers = [
        Reply(body=(FIXTURES / "wechat_freq_control.json").read_bytes()),
        json_reply(listing([3, 2])),
    ]
    url = http_server.route("/cgi-bin/appmsg", lambda s: answers.pop(0))
    runner = make_runner(WechatSource("acc", url, freq_control_wait=7200))
    await runner.poll_with_retry()
    assert clock.slept[0] >= 7200  # past backoff_max: the freq-control wait is honoured
    assert metric(registry, "connector_errors_total", source="acc", kind="freq_control") == 1
    assert runner.health.ok is True
    assert sink.ids == ["wechat:3_1", "wechat:2_1"]


async def test_freq_control_health_message(http_server, make_runner) -> None:
    url = http_server.route(
        "/cgi-bin/appmsg", Reply(body=(FIXTURES / "wechat_freq_control.json").read_bytes())
    )
    runner = make_runner(WechatSource("acc", url, freq_control_wait=600))
    await fail_then_stop(runner)
    assert runner.health.last_error_kind == "freq_control"
    assert (
        "WeChat freq control (ret 200013), backing off at least 600 s" in runner.health.last_error
    )


async def test_expired_session_and_bad_article(http_server, make_runner, sink) -> None:
    url = http_server.route(
        "/cgi-bin/appmsg", json_reply({"base_resp": {"ret": 200003, "err_msg": "invalid session"}})
    )
    runner = make_runner(WechatSource("acc", url), schedule=Schedule(backoff_initial=1))
    try:
        await runner.poll_once()
    except Exception as exc:
        assert getattr(exc, "kind", None) == "login_wall"
    else:
        raise AssertionError("an expired session must fail the poll")
    data = listing([7])
    data["app_msg_list"].append({"aid": "8_1", "title": "无时间"})
    http_server.route("/cgi-bin/appmsg", json_reply(data))
    await make_runner(WechatSource("acc2", url)).poll_once()
    assert sink.ids == ["wechat:7_1"]
    assert "create_time is not a unix time" in sink.dead[0].reason


async def test_werss_bridge_feed_is_an_rss_source_of_type_wechat(
    http_server, make_runner, sink
) -> None:
    url = http_server.route(
        "/feeds/MzA5.rss", Reply(body=(FIXTURES / "atom_utf8.xml").read_bytes())
    )
    await make_runner(RssSource("bridge", url, kind="wechat")).poll_once()
    assert sink.ids == ["wechat:urn:ziyang:atom:1"]


async def test_token_never_appears_in_health_or_dead_letters(
    http_server, make_runner, sink
) -> None:
    url = http_server.route(
        "/cgi-bin/appmsg", Reply(200, b'{"base_resp": {"ret": 0}, "app_msg_list": [tru')
    )
    source = WechatSource("acc", url, params={"token": "tok-SECRET-42", "fakeid": "QkJC"})
    runner = make_runner(source)
    await fail_then_stop(runner)
    assert http_server.hits("/cgi-bin/appmsg")[0].query["token"] == "tok-SECRET-42"
    assert runner.health.last_error_kind == "bad_payload"
    assert "token=REDACTED" in runner.health.last_error
    assert "tok-SECRET-42" not in runner.health.last_error
    assert all("tok-SECRET-42" not in d.reason + d.raw for d in sink.dead)
