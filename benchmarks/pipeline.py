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
     partitions), posts produced once the group has settled: how close two come to double,
     with the partitions each worker held and each partition's share of the incident posts.
     Ziyang's four incident keys all hash to one partition of four, so on these posts a
     second worker can only share the classifying; the same run with the posts spread over
     four keys on four partitions (SPREAD) shows what a second worker adds when it can.

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
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


# Ziyang's incident keys (5120:safety, :health, :labor, :environment) all hash to partition 1
# of 4, so with only Ziyang's posts a second worker can take over half of the classifying and
# none of the incident work. `spread` moves three stories in four to cities whose keys land
# on partitions 0, 2 and 3 (outside the jurisdiction: watched, no clocks), to show scaling.
SPREAD = ("", "成都市简阳市", "遂宁市安居区", "内江市东兴区")


def bench_posts(
    n: int, start: datetime, seed: int = 7, noise: float = 0.0, spread: bool = False
) -> list[Post]:
    """60 distinct events, each reported, reposted and retold, over about n seconds of event
    time; a `noise` share of everyday posts that are no incident. Every incident post yields
    one `assigned` event. `spread`: see SPREAD."""
    rng = random.Random(seed)
    places = [
        (SPREAD[i % len(SPREAD)], "") if spread and SPREAD[i % len(SPREAD)] else (c, t)
        for i, (c, t) in enumerate(PLACES * len(TEMPLATES))
    ]
    stories = [
        TEMPLATES[i % len(TEMPLATES)].format(c=c, t=t, n=3 + (i % 7))
        for i, (c, t) in enumerate(places)
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


def pipeline_child(broker: str, prefix: str, assigned_to: str | None = None) -> None:
    """One pipeline worker; `assigned_to`: a file that gets, at every rebalance, the
    partitions of posts.classified this worker holds (one JSON list a line)."""
    from monitor.config import load_config
    from streams.bootstrap import bootstrap
    from streams.settings import StreamSettings
    from streams.worker import run_worker

    settings = StreamSettings(broker=broker, prefix=prefix, partitions=PARTITIONS)
    pipe = bootstrap(settings, load_config())
    if assigned_to:
        classified = topic(Topic.CLASSIFIED, prefix)

        @pipe.app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's own stub
        async def note(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
            assigned = args[0]  # the signal's payload: the TPs this worker now holds
            held = sorted(tp.partition for tp in assigned if tp.topic == classified)
            with open(assigned_to, "a") as f:
                f.write(json.dumps(held) + "\n")

    run_worker(pipe)


def key_shares(posts: Sequence[Post]) -> dict[int, float]:
    """Share of the incident posts per posts.classified partition (the incident key's
    partition, as the classify agent sends them)."""
    from aiokafka.partitioner import DefaultPartitioner

    from monitor.config import incident_params, load_config
    from monitor.domain.incidents import incident_key
    from monitor.service import Classifier

    partition_of = DefaultPartitioner()  # the producer's: murmur2 of the key
    parts = list(range(PARTITIONS))
    cfg = load_config()
    classifier, params = Classifier.from_config(cfg), incident_params(cfg)
    counts: dict[int, int] = {}
    for p in posts:
        cls = classifier.classify(p)
        if cls.is_incident:
            key = incident_key(cls, cfg.jurisdiction.code, params).encode()
            part = partition_of(key, parts, parts)
            counts[part] = counts.get(part, 0) + 1
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in sorted(counts.items())}


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
    broker: BundledBroker, n: int, noise: float = 0.0, workers: int = 1, join_s: float = 0.0,
    spread: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """One run. `join_s` 0: the topic is full before one worker starts. Otherwise `workers`
    worker processes (one consumer group on the PARTITIONS partitions) start, are given
    `join_s` seconds to join and share the partitions, and then the posts are produced."""
    prefix = f"e2e{int(time.time())}n{int(noise * 100)}w{workers}s{int(spread)}."
    asyncio.run(ensure_topics(broker.url, prefix, PARTITIONS))
    posts = bench_posts(n, datetime(2026, 5, 1, tzinfo=UTC), noise=noise, spread=spread)
    incident_posts = sum(1 for p in posts if not p.text.startswith(tuple(NOISE)))
    enc = msgspec.json.Encoder()
    records = [(p.id.encode(), enc.encode(p)) for p in posts]
    if not join_s:
        asyncio.run(send_all(broker.url, topic(Topic.RAW, prefix), records))
    argv = [sys.executable, "-m", "benchmarks.pipeline", "--child", "pipeline", broker.url, prefix]
    out = subprocess.DEVNULL
    notes = [Path(tempfile.mkstemp(prefix="assigned-")[1]) for _ in range(workers)]
    children = [subprocess.Popen([*argv, str(note)], stdout=out, stderr=out) for note in notes]
    if join_s:
        time.sleep(join_s)
        asyncio.run(send_all(broker.url, topic(Topic.RAW, prefix), records))
    try:
        assigned = asyncio.run(
            _timestamps(
                broker.bootstrap, topic(Topic.EVENTS, prefix), incident_posts, b'"assigned"'
            )
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
    held = []
    for note in notes:
        lines = note.read_text().splitlines()
        held.append(json.loads(lines[-1]) if lines else [])
        note.unlink()
    return {"posts": n, "incident_posts": len(assigned), "rate": n / span, "seconds": span,
            "held": held}  # fmt: skip


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
            pipeline_child(rest[0], rest[1], rest[2] if len(rest) > 2 else None)
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
        for spread, name in ((False, "the same posts"), (True, "spread over four keys")):
            live, held = {}, []
            for workers in (1, 2):
                e2e = end_to_end(broker, args.posts, 0.0, workers, args.join, spread)
                live[workers], held = e2e["rate"], e2e["held"]
                print(f"  {name}, {workers} worker{'s' if workers > 1 else ''}: "
                      f"{e2e['rate']:,.0f} posts/s ({e2e['incident_posts']:.0f} assigned, "
                      f"{e2e['seconds']:.1f} s; load {loadavg()})")  # fmt: skip
            posts = bench_posts(args.posts, datetime(2026, 5, 1, tzinfo=UTC), spread=spread)
            shares = ", ".join(f"{p}: {v:.0%}" for p, v in key_shares(posts).items())
            print(f"    two workers / one: {live[2] / live[1]:.2f}× (double: 2.00×); "
                  f"posts.classified partitions held by each: {held}; incident posts by "
                  f"partition: {shares}")  # fmt: skip
        print(f"  ({os.cpu_count()} cores, shared with whatever else runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
