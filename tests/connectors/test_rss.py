"""RSS/Atom against a real local HTTP server: encodings, dates, conditional GET, refusals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from connectors.rss import RssSource
from tests.connectors.conftest import FIXTURES, Reply, fail_then_stop, metric

BJ = timezone(timedelta(hours=8))


def feed(name: str, content_type: str = "application/rss+xml") -> Reply:
    return Reply(body=(FIXTURES / name).read_bytes(), headers={"Content-Type": content_type})


async def test_real_chinanews_sample(http_server, make_runner, sink, shared_data: Path) -> None:
    body = (shared_data / "samples" / "chinanews_scroll_news_rss_excerpt.xml").read_bytes()
    url = http_server.route("/scroll.xml", Reply(body=body, headers={"Content-Type": "text/xml"}))
    runner = make_runner(RssSource("chinanews", url))
    assert await runner.poll_once() == 5
    first = sink.posts[0]
    assert first.title == "墨西哥中部一酒吧遭武装袭击致8人死亡"
    assert first.published_at == datetime(2026, 4, 19, 6, 19, 57, tzinfo=BJ)
    assert first.url == "https://www.chinanews.com.cn/gj/2026/04-19/10606398.shtml"
    assert first.text.startswith("新华社墨西哥城4月18日电")
    assert all(p.id.startswith("rss:") for p in sink.posts)
    assert len(set(sink.ids)) == 5


async def test_gbk_feed_chinese_dates_html_and_missing_guid(http_server, make_runner, sink) -> None:
    url = http_server.route("/gbk.xml", feed("gbk_feed.xml", "text/xml; charset=GBK"))
    runner = make_runner(RssSource("ziyang-gov", url))
    assert await runner.poll_once() == 3
    fire, landslide, food = sink.posts
    assert fire.title == "雁江区某小区发生火灾 无人员伤亡"
    assert (
        fire.text
        == "4月18日晚，雁江区某小区发生火灾，消防救援人员迅速到场处置&扑灭明火。\n无人员伤亡。"
    )
    assert fire.published_at == datetime(2026, 4, 18, 23, 26, tzinfo=BJ)
    assert fire.id == "rss:ziyang-2026-0418-001"
    assert fire.author == "资阳市应急管理局"
    assert landslide.published_at == datetime(2026, 4, 18, 23, 26, 1, tzinfo=BJ)
    # No guid: the id is a hash of link and title, the same on every read.
    assert landslide.id.startswith("rss:") and len(landslide.id) == len("rss:") + 24
    assert landslide.url == "http://www.ziyang.gov.cn/news/2026/0418/002.html"
    assert food.published_at == datetime(2026, 4, 18, 21, 22, 11, tzinfo=BJ)
    assert food.text == "乐至县市场监管局开展食品安全专项检查。"


async def test_no_guid_id_is_stable_across_reads(http_server, make_runner, sink, store) -> None:
    url = http_server.route("/gbk.xml", feed("gbk_feed.xml"))
    await make_runner(RssSource("a", url)).poll_once()
    await make_runner(RssSource("b", url)).poll_once()
    ids_a, ids_b = sink.ids[:3], sink.ids[3:]
    assert ids_a == ids_b


async def test_gb18030_and_atom(http_server, make_runner, sink) -> None:
    gb = http_server.route("/gb18030.xml", feed("gb18030_feed.xml"))
    atom = http_server.route("/atom.xml", feed("atom_utf8.xml", "application/atom+xml"))
    await make_runner(RssSource("gb", gb)).poll_once()
    await make_runner(RssSource("atom", atom)).poll_once()
    gb_post, atom_post = sink.posts
    assert gb_post.title == "王䶮同志任职公示"
    assert "䶮" in gb_post.text
    assert atom_post.text == "因管网维修，雁江区部分区域停水。"
    assert atom_post.url == "http://www.ziyang.gov.cn/atom/1.html"
    assert atom_post.published_at == datetime(2026, 4, 18, 12, 0, tzinfo=BJ)


async def test_conditional_get_304(http_server, make_runner, sink, store) -> None:
    body = (FIXTURES / "gbk_feed.xml").read_bytes()

    def handler(seen):
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(
            body=body, headers={"ETag": '"v1"', "Last-Modified": "Sat, 18 Apr 2026 15:30:00 GMT"}
        )

    url = http_server.route("/cond.xml", handler)
    runner = make_runner(RssSource("cond", url))
    assert await runner.poll_once() == 3
    assert store.load("cond")["etag"] == '"v1"'
    assert await runner.poll_once() == 0
    second = http_server.hits("/cond.xml")[1]
    assert second.headers["if-none-match"] == '"v1"'
    assert second.headers["if-modified-since"] == "Sat, 18 Apr 2026 15:30:00 GMT"
    assert runner.health.note == "304 not modified"
    assert len(sink.posts) == 3


async def test_unchanged_feed_without_validators_is_deduplicated(
    http_server, make_runner, sink, registry
) -> None:
    url = http_server.route("/plain.xml", feed("gbk_feed.xml"))
    runner = make_runner(RssSource("plain", url))
    await runner.poll_once()
    await runner.poll_once()
    assert len(sink.posts) == 3
    assert metric(registry, "connector_duplicates_total", source="plain") == 3


async def test_invalid_xml_refused_with_health_and_dead_letter(
    http_server, make_runner, sink, registry
) -> None:
    url = http_server.route("/bad.xml", feed("invalid.xml"))
    runner = make_runner(RssSource("bad", url))
    await fail_then_stop(runner)
    assert runner.health.ok is False
    assert runner.health.last_error_kind == "invalid_xml"
    assert "not well-formed XML at line" in runner.health.last_error
    assert metric(registry, "connector_errors_total", source="bad", kind="invalid_xml") == 1
    assert sink.dead[0].reason.startswith("invalid_xml")
    assert "未闭合" in sink.dead[0].raw


async def test_entity_bomb_refused_before_parsing(http_server, make_runner, sink, registry) -> None:
    url = http_server.route("/bomb.xml", feed("entity_bomb.xml"))
    runner = make_runner(RssSource("bomb", url))
    await fail_then_stop(runner)
    assert runner.health.last_error_kind == "entity_bomb"
    assert "declares XML entities" in runner.health.last_error
    assert metric(registry, "connector_errors_total", source="bomb", kind="entity_bomb") == 1
    assert sink.posts == []


async def test_twenty_megabytes_refused_while_streaming(http_server, make_runner, registry) -> None:
    url = http_server.route("/huge.xml", Reply(stream_bytes=20_000_000))
    runner = make_runner(RssSource("huge", url), max_bytes=1_000_000)
    await fail_then_stop(runner)
    assert runner.health.last_error_kind == "too_large"
    assert "1,000,000 byte limit; stopped reading" in runner.health.last_error
    assert metric(registry, "connector_errors_total", source="huge", kind="too_large") == 1


async def test_declared_length_over_limit_refused_without_reading(http_server, make_runner) -> None:
    url = http_server.route("/big.xml", Reply(body=b"x" * 2_000_000))
    runner = make_runner(RssSource("big", url), max_bytes=1_000_000)
    await fail_then_stop(runner)
    assert "announced 2,000,000 bytes" in runner.health.last_error


async def test_slow_server_times_out(http_server, make_runner, registry) -> None:
    url = http_server.route("/slow.xml", Reply(body=b"<rss/>", delay=1.5))
    runner = make_runner(RssSource("slow", url), timeout=0.3)
    await fail_then_stop(runner)
    assert runner.health.last_error_kind == "timeout"
    assert "no complete answer" in runner.health.last_error
    assert metric(registry, "connector_up", source="slow") == 0

