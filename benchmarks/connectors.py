"""Parsed posts per second for each connector format, on one core.

    .venv/bin/python -m benchmarks.connectors [--n 20000]

Inputs are built in memory from the real sample shapes in ../shared/data/samples (the m.weibo.cn
getIndex page, the weibo.com ajax item, the WeChat app_msg_list, the chinanews RSS excerpt):
the samples' statuses and items are repeated with fresh ids until there are `--n` of them.
Timed: decoding the body and turning it into Post records (HTML to text, dates, counts,
reposted originals), i.e. everything a poll does except the network. Goal: ≥ 5,000 Weibo
statuses/s and ≥ 2,000 RSS items/s.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import msgspec

from benchmarks._data import SHARED
from connectors.http import Fetched
from connectors.push import PushEndpoint, decode_posts
from connectors.replay import normalise
from connectors.rss import RssSource, parse_feed
from connectors.wechat import articles_to_posts
from connectors.weibo import mobile_statuses, statuses_to_posts

NOW = datetime(2026, 4, 19, 2, 0, tzinfo=UTC)
SAMPLES = SHARED / "samples"


def load(name: str) -> Any:
    path = SAMPLES / name
    if not path.is_file():
        raise SystemExit(f"sample not found: {path} (set YUQING_SHARED_DATA)")
    return json.loads(path.read_text(encoding="utf-8"))


def weibo_mobile_body(n: int) -> bytes:
    page = load("weibo_mweibocn_getIndex_dataabc_js.json")
    cards = page["data"]["cards"]
    out = []
    for i in range(n):
        card = copy.deepcopy(cards[i % len(cards)])
        card["mblog"]["id"] = card["mblog"]["mid"] = str(9_000_000_000_000_000 + i)
        out.append(card)
    page["data"]["cards"] = out
    return json.dumps(page, ensure_ascii=False).encode()


def weibo_pc_body(n: int) -> bytes:
    item = load("weibo_pc_ajax_mymblog_item_stablog.json")["item"]
    items = []
    for i in range(n):
        one = dict(item, id=8_000_000_000_000_000 + i, idstr=str(8_000_000_000_000_000 + i))
        items.append(one)
    return json.dumps({"ok": 1, "data": {"list": items}}, ensure_ascii=False).encode()


def rss_body(n: int) -> bytes:
    text = (SAMPLES / "chinanews_scroll_news_rss_excerpt.xml").read_text(encoding="utf-8")
    head, rest = text.split("<item>", 1)
    items = ["<item>" + chunk.rsplit("</item>", 1)[0] + "</item>" for chunk in rest.split("<item>")]
    out = []
    for i in range(n):
        base = items[i % len(items)]
        out.append(
            base.replace("</title>", f" {i}</title>", 1).replace(
                "</item>", f"<guid>bench-{i}</guid></item>"
            )
        )
    return (head + "".join(out) + "\n</channel>\n</rss>\n").encode("utf-8")


def wechat_items(n: int) -> list[dict[str, Any]]:
    item = load("wechat_mp_appmsg_list_ex_trganda.json")["app_msg_list"][0]
    return [dict(item, aid=f"{i}_1", title=escape(f"{item['title']} {i}")) for i in range(n)]


def timed(label: str, unit: str, count: int, fn: Callable[[], int]) -> None:
    fn()  # warm up
    start = time.process_time()
    produced = fn()
    spent = time.process_time() - start
    print(f"{label:<34} {count:>7} {unit:<9} {count / spent:>10,.0f} {unit}/s  ({produced} posts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="statuses/items per format")
    n = parser.parse_args().n
    print(f"{'format':<34} {'input':>7} {'unit':<9} {'rate':>10}")

    mobile = weibo_mobile_body(n)

    def weibo_mobile() -> int:
        data = msgspec.json.decode(mobile)["data"]
        return len(statuses_to_posts(mobile_statuses(data), source="b", now=NOW).posts)

    timed("weibo m.weibo.cn getIndex", "statuses", n, weibo_mobile)

    pc = weibo_pc_body(n)

    def weibo_pc() -> int:
        data = msgspec.json.decode(pc)["data"]["list"]
        return len(statuses_to_posts(data, source="b", now=NOW).posts)

    timed("weibo weibo.com ajax/statuses", "statuses", n, weibo_pc)

    rss_n = max(n // 4, 1)
    feed = Fetched(200, "http://bench/", {"content-type": "application/rss+xml"}, rss_body(rss_n))
    gbk = Fetched(
        200,
        "http://bench/",
        {},
        feed.body.decode().replace('encoding="utf-8"', 'encoding="GBK"').encode("gbk"),
    )
    source = RssSource("bench", "http://bench/")
    timed("rss (utf-8)", "items", rss_n, lambda: len(parse_feed(feed, source=source, now=NOW)[0]))
    timed("rss (GBK)", "items", rss_n, lambda: len(parse_feed(gbk, source=source, now=NOW)[0]))

    wechat = json.dumps({"base_resp": {"ret": 0}, "app_msg_list": wechat_items(n)}).encode()

    def wechat_list() -> int:
        items = msgspec.json.decode(wechat)["app_msg_list"]
        return len(articles_to_posts(items, source="b", account=None, biz=None, now=NOW)[0])

    timed("wechat app_msg_list", "articles", n, wechat_list)

    lines = [
        json.dumps(
            {
                "id": f"h{i}",
                "text": "雁江区某工地发生坍塌" * 8,
                "published_at": "2026-04-18T08:05:00+08:00",
                "reposts": i,
            }
        ).encode()
        for i in range(n)
    ]
    decoder = msgspec.json.Decoder(dict[str, Any])
    timed(
        "file replay (jsonl)",
        "lines",
        n,
        lambda: sum(
            1 for ln in lines if normalise(decoder.decode(ln), tz=UTC, now=NOW, strict=True)
        ),
    )

    endpoint = PushEndpoint("bench", "x")
    body = json.dumps([json.loads(ln) for ln in lines[:1000]]).encode()
    timed("push (list of 1000)", "posts", 1000, lambda: len(decode_posts(body, endpoint, NOW)))


if __name__ == "__main__":
    main()
