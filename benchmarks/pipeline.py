"""Throughput on the bundled Tansu broker, all measured in one run:

  1. raw aiokafka: consume the topic in a consumer group (fetch_max_wait_ms=1500, as Faust);
  2. a plain Faust agent that only counts, and one that also updates a Table, with Faust's
     defaults ("before") and with streams/settings.py TUNED plus the spinner-less Worker
     ("after");
  3. end to end: one pipeline worker, posts.raw → posts.classified → incident.events, with
     every post an incident post (the worst case), half of them, and a tenth of them (the rest
     everyday posts the classifier drops);
  4. the classify core (Classifier.classify in one process) on the same posts at 100%, and
     end to end's share of it (issue 11's goal: at least half);
  5. one worker against two (two worker processes, one consumer group, PARTITIONS
     partitions), posts produced once the group has settled: how close two come to double.
     The posts' incident keys are uneven (half of them are the `safety` family's, one key, so
     one partition), which caps what a second worker can add to the incident stage.

    .venv/bin/python -m benchmarks.pipeline [--messages 30000] [--posts 20000] [--join 20]

Each Faust run is a fresh child process (one Faust app per process). Rates are measured from
the first record the agent sees to the last, so start-up and group joins are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from aiokafka import AIOKafkaConsumer

from monitor.domain.model import Post
from monitor.runtime.broker import BundledBroker
from monitor.runtime.producer import ensure_topics, send_all
from monitor.topics import Topic, topic

PARTITIONS = 4


# --- 1. raw consumption ----------------------------------------------------------------------


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    c = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"raw-{topic}",
        auto_offset_reset="earliest", fetch_max_wait_ms=1500,
    )  # fmt: skip
    await c.start()
    got, t0 = 0, None
    try:
        while got < n:
            batch = await c.getmany(timeout_ms=1000, max_records=10_000)
            if batch and t0 is None:
                t0 = time.perf_counter()
            got += sum(len(v) for v in batch.values())
    finally:
        await c.stop()
    return n / (time.perf_counter() - (t0 or time.perf_counter()))


# --- 2. plain Faust agents (child process) ---------------------------------------------------


def faust_child(broker: str, topic: str, n: int, variant: str) -> None:
    import faust
    from faust.worker import Worker

    from streams.settings import TUNED
    from streams.tuning import FastFetchApp
    from streams.worker import make_worker

    tuned = variant.endswith("after")
    extra = dict(TUNED) if tuned else {}
    app_class = FastFetchApp if tuned else faust.App
    app = app_class(
        f"bench-{variant}-{topic}", broker=broker, store="memory://", web_enabled=False,
        topic_partitions=PARTITIONS, broker_session_timeout=6, broker_rebalance_timeout=6,
        broker_heartbeat_interval=0.6, **extra,
    )  # fmt: skip
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")
    table = app.Table(f"count-{variant}", default=int, partitions=PARTITIONS)
    st: dict[str, float] = {"n": 0, "t0": 0.0, "c0": 0.0}
    with_table = variant.startswith("table")

    @app.agent(source)
    async def count(stream):  # type: ignore[no-untyped-def]
        async for key, _ in stream.items():
            if not st["n"]:
                st["t0"], st["c0"] = time.perf_counter(), time.process_time()
            if with_table:
                table[key] += 1
            st["n"] += 1
            if st["n"] == n:
                wall = time.perf_counter() - st["t0"]
                cpu = (time.process_time() - st["c0"]) / wall
                sys.__stdout__.write(json.dumps({"rate": n / wall, "cpu": cpu}) + "\n")
                sys.__stdout__.flush()
                os.kill(os.getpid(), signal.SIGTERM)

    worker = make_worker(app) if tuned else Worker(app, loglevel="warning", quiet=True)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()


def run_child(
    *args: str, live: Sequence[tuple[bytes | None, bytes]] | None = None, timeout: float = 300
) -> dict[str, float]:
    """Run a Faust child. With `live`, the topic starts empty and these records are produced
    once the child has joined its group, so the agent reads at the log end, as in production."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.pipeline", "--child", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if live is not None:
        time.sleep(9)  # group join: Tansu answers at the 6 s rebalance timeout
        asyncio.run(send_all(args[1], args[2], live))
    stdout, stderr = proc.communicate(timeout=timeout)
    out = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    for line in out.stdout.splitlines():
        if '{"rate"' in line:  # Faust's spinner may prefix terminal escapes on the line
            return dict(json.loads(line[line.index('{"rate"') :]))
    raise RuntimeError(f"child {args} printed no result:\n{out.stderr[-2000:]}")


# --- 3. end to end ---------------------------------------------------------------------------

PLACES = [
    ("雁江区", "宝台镇"), ("雁江区", "临江镇"), ("雁江区", "中和镇"), ("雁江区", "丰裕镇"),
    ("安岳县", "石羊镇"), ("安岳县", "岳阳镇"), ("安岳县", "周礼镇"), ("乐至县", "天池街道"),
    ("乐至县", "童家镇"), ("乐至县", "回澜镇"),
]  # fmt: skip
TEMPLATES = [
    "{c}{t}一化工厂发生爆炸，已造成{n}人死亡，多人受伤，现场浓烟滚滚。",
    "{c}{t}一居民楼发生火灾，{n}人受伤，消防正在扑救。",
    "{c}{t}中心小学{n}名学生午餐后呕吐腹泻，疑似食物中毒送医。",
    "{c}{t}一工地拖欠{n}名农民工工资，工人聚集讨薪。",
    "{c}{t}发生一起交通事故，一辆货车与客车相撞，{n}人受伤。",
    "{c}{t}一企业偷排污水，河水发黑发臭，附近{n}户居民投诉。",
]


NOISE = [
    "今天资阳天气不错，晚上去九曲河边散步。", "安岳柠檬节开幕了，游客很多，柠檬茶好喝。",
    "乐至的烧白真好吃，推荐给大家。", "周末带孩子去雁江区图书馆看书。",
]  # fmt: skip


def bench_posts(n: int, start: datetime, seed: int = 7, noise: float = 0.0) -> list[Post]:
    """60 distinct events, each reported, reposted and retold, over about n seconds of event
    time; a `noise` share of everyday posts that are no incident. Every incident post yields
    one `assigned` event."""
    rng = random.Random(seed)
    stories = [
        TEMPLATES[i % len(TEMPLATES)].format(c=c, t=t, n=3 + (i % 7))
        for i, (c, t) in enumerate(PLACES * len(TEMPLATES))
    ]
    posts = []
    for i in range(n):
        if rng.random() < noise:
            at = start + timedelta(seconds=i)
            text = NOISE[i % len(NOISE)] + f"（网友{rng.randrange(10_000)}）"
            posts.append(Post(id=f"b{i}", text=text, source="weibo", published_at=at))
            continue
        s = rng.randrange(len(stories))
        at = start + timedelta(seconds=i)
        repost = f"b{i - 1}" if posts and rng.random() < 0.2 else None
        text = ("转发：" if repost else "") + stories[s] + f"（网友{rng.randrange(10_000)}）"
        posts.append(Post(
            id=f"b{i}", text=text, source="weibo", published_at=at, observed_at=at,
            author_followers=rng.randrange(50_000), repost_of=repost,
        ))  # fmt: skip
    return posts


def pipeline_child(broker: str, prefix: str) -> None:
    from monitor.config import load_config
    from streams.bootstrap import bootstrap
    from streams.settings import StreamSettings
    from streams.worker import run_worker

    settings = StreamSettings(broker=broker, prefix=prefix, partitions=PARTITIONS)
    run_worker(bootstrap(settings, load_config()))


async def _timestamps(bootstrap: str, topic: str, want: int, kind: bytes | None) -> list[int]:
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await c.start()
    stamps: list[int] = []
    idle = 0
    try:
        while len(stamps) < want and idle < 60:
            batch = await c.getmany(timeout_ms=1000, max_records=10_000)
            idle = 0 if batch else idle + 1
            for msgs in batch.values():
                stamps.extend(
                    m.timestamp for m in msgs if kind is None or (m.value and kind in m.value)
                )
    finally:
        await c.stop()
    return stamps


def end_to_end(
    broker: BundledBroker, n: int, noise: float = 0.0, workers: int = 1, join_s: float = 0.0
) -> dict[str, float]:
    """One run. `join_s` 0: the topic is full before one worker starts. Otherwise `workers`
    worker processes (one consumer group on the PARTITIONS partitions) start, are given
    `join_s` seconds to join and share the partitions, and then the posts are produced."""
    prefix = f"e2e{int(time.time())}n{int(noise * 100)}w{workers}."
    asyncio.run(ensure_topics(broker.url, prefix, PARTITIONS))
    posts = bench_posts(n, datetime(2026, 5, 1, tzinfo=UTC), noise=noise)
    incident_posts = sum(1 for p in posts if not p.text.startswith(tuple(NOISE)))
    enc = msgspec.json.Encoder()
    records = [(p.id.encode(), enc.encode(p)) for p in posts]
    if not join_s:
        asyncio.run(send_all(broker.url, topic(Topic.RAW, prefix), records))
    argv = [sys.executable, "-m", "benchmarks.pipeline", "--child", "pipeline", broker.url, prefix]
    out = subprocess.DEVNULL
    children = [subprocess.Popen(argv, stdout=out, stderr=out) for _ in range(workers)]
    if join_s:
        time.sleep(join_s)
        asyncio.run(send_all(broker.url, topic(Topic.RAW, prefix), records))
    try:
        assigned = asyncio.run(
            _timestamps(broker.bootstrap, topic(Topic.EVENTS, prefix), incident_posts,
                        b'"assigned"')
        )
        classified = asyncio.run(
            _timestamps(broker.bootstrap, topic(Topic.CLASSIFIED, prefix), 1, None)
        )
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(30)
    # from the first classified record to the last assigned event; noise posts are read and
    # dropped in between, in partition order, so they count in the span
    span = (max(assigned) - min(classified)) / 1000
    return {"posts": n, "incident_posts": len(assigned), "rate": n / span, "seconds": span}


def core_rate(n: int, repeat: int = 3) -> float:
    """The classify core (Classifier.classify, one process) on the posts end_to_end sends at
    100% incident posts: the best of `repeat` passes, in posts/s."""
    from monitor.config import load_config
    from monitor.service import Classifier

    posts = bench_posts(n, datetime(2026, 5, 1, tzinfo=UTC))
    classifier = Classifier.from_config(load_config())
    classifier.classify(posts[0])
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for p in posts:
            classifier.classify(p)
        best = min(best, time.perf_counter() - t)
    return n / best


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def faust_agents(
    broker: BundledBroker, src: str, records: Sequence[tuple[bytes | None, bytes]], n: int
) -> None:
    print("Faust agent, topic already full (the agent never meets the log end):")
    for variant in ("plain-before", "plain-after", "table-before", "table-after"):
        r = run_child(variant, broker.url, src, str(n))
        print(f"  {variant:<13} {r['rate']:>9,.0f} msgs/s  (cpu {r['cpu']:.2f} cores)")
    print("Faust agent, records produced while it consumes (live; it reaches the log end):")
    for i, variant in enumerate(("plain-before", "plain-after", "table-before", "table-after")):
        live_topic = f"{src}.live{i}"
        asyncio.run(ensure_topics(broker.url, live_topic + ".", PARTITIONS))
        r = run_child(variant, broker.url, live_topic + ".posts.raw", str(n),
                      live=records)  # fmt: skip
        print(f"  {variant:<13} {r['rate']:>9,.0f} msgs/s  (cpu {r['cpu']:.2f} cores)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=30_000)
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--child", nargs="+")
    ap.add_argument("--join", type=float, default=20,
                    help="seconds the live runs give their workers to join the group")  # fmt: skip
    ap.add_argument(
        "--skip-agents", action="store_true", help="only produce, raw consume and end to end"
    )
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "pipeline":
            pipeline_child(rest[0], rest[1])
        else:
            faust_child(rest[0], rest[1], int(rest[2]), kind)
        return 0
    with BundledBroker() as broker:
        topic = f"bench{int(time.time())}"
        asyncio.run(ensure_topics(broker.url, topic + ".", PARTITIONS))
        value = json.dumps({"id": "x", "text": "资阳" * 120}, ensure_ascii=False).encode()[:300]
        records = [(str(i).encode(), value) for i in range(args.messages)]
        t = time.perf_counter()
        asyncio.run(send_all(broker.url, topic + ".posts.raw", records))
        rate = args.messages / (time.perf_counter() - t)
        print(f"produce (aiokafka, acks=all)       {rate:>9,.0f} msgs/s")
        src = topic + ".posts.raw"
        rate = asyncio.run(raw_consume(broker.bootstrap, src, args.messages))
        print(f"raw aiokafka consume (group)        {rate:>9,.0f} msgs/s")
        if not args.skip_agents:
            faust_agents(broker, src, records, args.messages)
        print("End to end, one worker, posts.raw → posts.classified → incident.events "
              "(topic full before it starts):")  # fmt: skip
        rates = {}
        for noise in (0.0, 0.5, 0.9):
            e2e = end_to_end(broker, args.posts, noise)
            rates[noise] = e2e["rate"]
            print(f"  {1 - noise:>4.0%} incident posts {e2e['rate']:>9,.0f} posts/s  "
                  f"({e2e['posts']:.0f} posts, {e2e['incident_posts']:.0f} assigned, "
                  f"{e2e['seconds']:.1f} s; load {loadavg()})")  # fmt: skip
        core = core_rate(args.posts)
        print(f"classify core on the same posts (100% incident, one process): {core:,.0f} "
              f"posts/s (load {loadavg()})")  # fmt: skip
        print(f"  end to end / core at 100% incident posts: {rates[0.0] / core:.2f} "
              f"(goal ≥ 0.50)")  # fmt: skip
        print(f"Live, 100% incident posts, produced once the group has settled "
              f"({args.join:g} s after the workers start):")  # fmt: skip
        live = {}
        for workers in (1, 2):
            e2e = end_to_end(broker, args.posts, 0.0, workers=workers, join_s=args.join)
            live[workers] = e2e["rate"]
            print(f"  {workers} worker{'s' if workers > 1 else ' '} {e2e['rate']:>9,.0f} posts/s "
                  f"({e2e['incident_posts']:.0f} assigned, {e2e['seconds']:.1f} s; load "
                  f"{loadavg()})")  # fmt: skip
        print(f"  two workers / one: {live[2] / live[1]:.2f}× (double would be 2.00×; "
              f"{os.cpu_count()} cores shared with whatever else runs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
