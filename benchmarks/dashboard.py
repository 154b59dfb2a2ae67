"""The dashboard under a flood: `monitor run` on the embedded default, 50 live dashboards
(Server-Sent Events) and 100 API requests/s (benchmarks/webload.py), first with the pipeline
idle (the baseline, same run), then while 500 incident posts/s are pushed into `posts.raw`.

    .venv/bin/python -m benchmarks.dashboard [--seconds 30] [--rate 100] [--clients 50]
                                             [--ingest 500]

Printed for each phase: API latency p50/p90/p99/max and errors; live push latency (a sentinel
post about a new incident is sent every few seconds; the time from the broker's ack to each
live client's `opened` message); CPU used by the worker and by the web process; posts the
pipeline applied against posts sent. Goal: API p99 ≤ 200 ms while ingesting.

The load generator runs in this process on the same 2 cores as the monitor: it takes CPU
from the server it measures, so the figures are an upper bound on what a browser would see.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from aiokafka import AIOKafkaProducer

from benchmarks._monitor import Running, running_monitor
from benchmarks.pipeline import PLACES, TEMPLATES
from benchmarks.webload import LoadResult, add_load_arguments, web_load
from monitor.config import load_config
from monitor.domain.model import Post
from monitor.runtime.producer import bootstrap
from monitor.testing import web_child

enc = msgspec.json.Encoder()
SENTINEL_EVERY = 3.0  # seconds
# unlike each other and the flood's stories, so each sentinel opens an incident of its own
SENTINEL_TEXTS = [
    "一餐馆发生疑似食物中毒，{k}人送医治疗。", "一煤矿发生透水事故，{k}名矿工被困井下。",
    "一小学校车侧翻，{k}名学生受伤。", "发生山体滑坡，{k}户民房被埋。",
    "暴雨引发洪涝，{k}百户房屋进水。", "一养老院发生火情，{k}名老人被疏散。",
    "一企业拖欠{k}十名工人工资，工人聚集讨薪。", "一男子持刀伤人，{k}人受伤，嫌疑人已被控制。",
]

def stories(n: int) -> list[str]:
    return [
        TEMPLATES[i % len(TEMPLATES)].format(c=c, t=t, n=3 + (i % 7))
        for i, (c, t) in enumerate((PLACES * 10)[:n])
    ]


def _filler(n: int) -> str:
    """Words unique to sentinel n, so no two sentinels read as near duplicates of each other
    (the domain joins near duplicates whatever their place)."""
    rng = random.Random(n)
    return "（" + "".join(chr(0x4E00 + rng.randrange(0x4000)) for _ in range(40)) + "）"


def sentinel_places() -> list[tuple[str, str]]:
    """Towns the flood never names, so each sentinel opens an incident of its own."""
    used = {t for _, t in PLACES}
    cfg = load_config()
    return [(c.name, t.name) for c in cfg.jurisdiction.counties for t in c.towns
            if t.name not in used]  # fmt: skip


async def ingest(
    broker: str, rate: float, seconds: float, story_count: int, stop: asyncio.Event
) -> int:
    """`rate` incident posts/s about `story_count` incidents into posts.raw, timed now."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), linger_ms=5)
    await producer.start()
    texts = stories(story_count)
    rng = random.Random(5)
    sent = 0
    start = time.monotonic()
    try:
        while not stop.is_set() and (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate)
            now = datetime.now(UTC)
            while sent < due:
                text = texts[sent % len(texts)] + f"（网友{rng.randrange(100_000)}）"
                post = Post(id=f"f{time.monotonic_ns()}-{sent}", text=text, source="weibo",
                            published_at=now, observed_at=now,
                            author_followers=rng.randrange(50_000))  # fmt: skip
                await producer.send("posts.raw", enc.encode(post), key=post.id.encode())
                sent += 1
            await asyncio.sleep(0.02)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def sentinels(
    broker: str, seconds: float, first: int, sent: dict[str, float]
) -> None:  # fmt: skip
    """A post about a new incident every SENTINEL_EVERY s; `sent`: title mark → ack time."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), acks="all")
    await producer.start()
    places = sentinel_places()
    start = time.monotonic()
    n = first
    try:
        while time.monotonic() - start < seconds - 2:
            county, town = places[n % len(places)]
            mark = f"哨兵{n:03d}"
            now = datetime.now(UTC)
            text = f"{mark}：{county}{town}" + SENTINEL_TEXTS[n % len(SENTINEL_TEXTS)].format(
                k=3 + n % 5) + _filler(n)
            post = Post(id=f"sentinel-{n}", source="weibo", published_at=now, observed_at=now,
                        text=text)  # fmt: skip
            await producer.send_and_wait("posts.raw", enc.encode(post), key=post.id.encode())
            sent[mark] = time.monotonic()
            n += 1
            await asyncio.sleep(SENTINEL_EVERY)
    finally:
        await producer.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def web_pid(run_pid: int) -> int:
    web = web_child(run_pid)
    if web is None:
        raise SystemExit("no `monitor web` child found")
    return web


def applied_posts(worker_metrics: str) -> float:
    try:
        text = httpx.get(f"{worker_metrics}/metrics", timeout=10).text
    except httpx.TransportError:
        return 0.0
    found = re.search(r'^monitor_inputs_total\{kind="post"\} ([0-9.e+]+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def histogram(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of a histogram, summed over its labels: upper bound → count."""
    out: dict[float, float] = {}
    for m in re.finditer(rf'^{name}_bucket{{(.*?)}} ([0-9.e+]+)$', text, re.M):
        le = re.search(r'le="([^"]+)"', m.group(1))
        assert le
        bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
        out[bound] = out.get(bound, 0) + float(m.group(2))
    return out


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the bucket holding the q-quantile of what was observed between."""
    counts = {b: after.get(b, 0) - before.get(b, 0) for b in after}
    total = counts.get(float("inf"), 0)
    for bound in sorted(counts):
        if total and counts[bound] >= q * total:
            return bound
    return float("nan")


def web_metrics(base: str) -> str:
    return httpx.get(f"{base}/metrics", timeout=30).text


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def phase(
    run: Running, args: argparse.Namespace, ingest_rate: float, first_sentinel: int
) -> tuple[LoadResult, dict[str, float], int]:
    stop = asyncio.Event()
    marks: dict[str, float] = {}
    feeding = (
        asyncio.create_task(ingest(run.broker, ingest_rate, args.seconds, args.stories, stop))
        if ingest_rate else None
    )  # fmt: skip
    probes = asyncio.create_task(sentinels(run.broker, args.seconds, first_sentinel, marks))
    result = await web_load(run.base, run.token, rate=args.rate, clients=args.clients,
                            seconds=args.seconds)  # fmt: skip
    stop.set()
    sent = await feeding if feeding else 0
    await probes
    return result, marks, sent


def print_phase(
    name: str, result: LoadResult, marks: dict[str, float], clients: int, cpu: dict[str, float],
    seconds: float,
) -> None:  # fmt: skip
    print(result.report(name))
    pushes = [x for mark, at in marks.items() for x in result.pushed_after(mark, at)]
    expected = len(marks) * clients
    p50, p99 = pct(pushes, 0.5) * 1000, pct(pushes, 0.99) * 1000
    print(f"  live push (broker ack → opened on a dashboard): {len(pushes)}/{expected} "
          f"delivered, p50 {p50:.0f} ms, p99 {p99:.0f} ms")  # fmt: skip
    print("  CPU over the phase: " + ", ".join(
        f"{k} {v / seconds * 100:.0f}%" for k, v in cpu.items()))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    add_load_arguments(parser)
    parser.add_argument("--ingest", type=float, default=500, help="incident posts per second")
    parser.add_argument("--stories", type=int, default=40, help="incidents the flood is about")
    args = parser.parse_args()
    with running_monitor("bench-dashboard-") as run:
        web = web_pid(run.proc.pid)
        print(f"monitor run pid {run.proc.pid} (worker), monitor web pid {web}; {args.clients} "
              f"live clients, {args.rate:g} requests/s, {args.seconds:g} s a phase")  # fmt: skip
        # incidents to look at: the flood's stories, once each
        asyncio.run(ingest(run.broker, 200, args.stories / 200 + 1, args.stories, asyncio.Event()))
        deadline = time.monotonic() + 120
        while applied_posts(run.worker_metrics) < args.stories and time.monotonic() < deadline:
            time.sleep(0.5)

        results = []
        phases = (("pipeline idle (baseline)", 0.0, 0),
                  (f"ingesting {args.ingest:g} posts/s", args.ingest, 500))
        for name, rate, first in phases:
            before = {"worker": cpu_seconds(run.proc.pid), "web": cpu_seconds(web)}
            served0 = histogram(web_metrics(run.base), "monitor_web_request_seconds")
            applied0 = applied_posts(run.worker_metrics)
            t0 = time.monotonic()
            result, marks, sent = asyncio.run(phase(run, args, rate, first))
            took = time.monotonic() - t0
            cpu = {"worker": cpu_seconds(run.proc.pid) - before["worker"],
                   "web": cpu_seconds(web) - before["web"]}  # fmt: skip
            print_phase(name, result, marks, args.clients, cpu, took)
            served = histogram(web_metrics(run.base), "monitor_web_request_seconds")
            p50, p99 = (bucket_quantile(served0, served, q) * 1000 for q in (0.5, 0.99))
            print(f"  server side (the web process's own histogram): p50 ≤ {p50:g} ms, "
                  f"p99 ≤ {p99:g} ms")  # fmt: skip
            if sent:
                applied = applied_posts(run.worker_metrics) - applied0
                print(f"  posts sent {sent} ({sent / args.seconds:.0f}/s), applied by the end of "
                      f"the phase {applied:.0f} (sentinels included)")  # fmt: skip
            print(f"  RSS: worker {rss_mb(run.proc.pid):.0f} MB, web {rss_mb(web):.0f} MB")
            results.append(result)
        idle, busy = results
        print(f"API p99: {busy.percentile(0.99) * 1000:.0f} ms while ingesting against "
              f"{idle.percentile(0.99) * 1000:.0f} ms idle (goal ≤ 200 ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
