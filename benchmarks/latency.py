"""Detection latency under load, on the bundled Tansu broker with one live worker:

from a post's arrival in posts.raw (its record timestamp) to its incident's `opened` event in
incident.events and to the first notification in the outbox (the notifications topic), with a
background load of --rate posts/s (90% everyday posts, 10% posts about running incidents).

    .venv/bin/python -m benchmarks.latency [--rate 1000] [--seconds 20] [--probes-per-s 5]

Each probe opens a new incident: its event time is 80 h after the previous probe's, beyond the
72 h assignment window, so it cannot join an earlier one. All timestamps come from one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from benchmarks.pipeline import PLACES, TEMPLATES, bench_posts
from monitor.domain.model import Post
from monitor.runtime.broker import BundledBroker
from monitor.runtime.producer import bootstrap, ensure_topics
from monitor.topics import Topic, topic

PARTITIONS = 4
enc = msgspec.json.Encoder()


def probe(i: int, base: datetime) -> Post:
    county, town = PLACES[i % len(PLACES)]
    text = TEMPLATES[i % len(TEMPLATES)].format(c=county, t=town, n=3 + i % 5)
    at = base + timedelta(hours=80 * i)
    return Post(id=f"probe-{i}", text=text, source="weibo", published_at=at, observed_at=at)


async def load(
    broker: str, topic: str, rate: int, seconds: float, probes_per_s: float
) -> dict[str, int]:
    """Send background posts at `rate`/s and probes; returns probe id → send time (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(broker), linger_ms=2)
    await producer.start()
    background = bench_posts(int(rate * seconds) + rate, datetime.now(UTC), noise=0.9)
    sent: dict[str, int] = {}
    base = datetime(2020, 1, 1, tzinfo=UTC)
    start = time.monotonic()
    tick, n, p = 0.05, 0, 0
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(elapsed * rate)
            for post in background[n:due]:
                await producer.send(topic, enc.encode(post), key=post.id.encode())
            n = max(n, due)
            if p < elapsed * probes_per_s:
                pr = probe(p, base)
                meta = await (await producer.send(topic, enc.encode(pr), key=pr.id.encode()))
                sent[pr.id] = meta.timestamp
                p += 1
            await asyncio.sleep(tick)
    finally:
        await producer.stop()
    return sent


async def stamps(broker: str, topic: str) -> list[tuple[int, dict[str, object]]]:
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap(broker), auto_offset_reset="earliest")
    await c.start()
    out: list[tuple[int, dict[str, object]]] = []
    try:
        while batch := await c.getmany(timeout_ms=2000, max_records=10_000):
            for msgs in batch.values():
                out.extend((m.timestamp, msgspec.json.decode(m.value)) for m in msgs if m.value)
    finally:
        await c.stop()
    return out


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1] if len(xs) > 1 else xs[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--probes-per-s", type=float, default=5)
    ap.add_argument("--faust-defaults", action="store_true", help="worker without the tuning")
    args = ap.parse_args()
    with BundledBroker() as broker:
        prefix = "lat."
        asyncio.run(ensure_topics(broker.url, prefix, PARTITIONS))
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker", "--broker", broker.url, "--prefix", prefix,
             "--partitions", str(PARTITIONS), "--live",
             *(["--faust-defaults"] if args.faust_defaults else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
        )  # fmt: skip
        try:
            time.sleep(9)  # group join (Tansu answers at the 6 s rebalance timeout)
            sent = asyncio.run(
                load(broker.url, topic(Topic.RAW, prefix), args.rate, args.seconds,
                     args.probes_per_s)
            )
            time.sleep(3)
            events = asyncio.run(stamps(broker.url, topic(Topic.EVENTS, prefix)))
            notes = asyncio.run(stamps(broker.url, topic(Topic.NOTIFICATIONS, prefix)))
        finally:
            worker.terminate()
            worker.wait(30)
    incident_of = {
        str(e["data"]["post_id"]): str(e["incident_id"])  # type: ignore[index]
        for _, e in events if e["kind"] == "assigned" and str(e["id"]).count(":probe-")
    }  # fmt: skip
    opened = {str(e["incident_id"]): ts for ts, e in events if e["kind"] == "opened"}
    first_note: dict[str, int] = {}
    for ts, n in notes:
        first_note.setdefault(str(n["incident_id"]), ts)
    to_open = [(opened[incident_of[p]] - t) / 1000 for p, t in sent.items() if p in incident_of]
    to_note = [(first_note[incident_of[p]] - t) / 1000 for p, t in sent.items()
               if p in incident_of and incident_of[p] in first_note]  # fmt: skip
    print(f"background {args.rate} posts/s for {args.seconds:.0f} s; {len(sent)} probes, "
          f"{len(to_open)} opened, {len(to_note)} notified")  # fmt: skip
    for name, xs in (("posts.raw → opened", to_open), ("posts.raw → first notification", to_note)):
        if xs:
            p50, p99 = pct(xs, 50) * 1000, pct(xs, 99) * 1000
            top = max(xs) * 1000
            print(f"  {name:<32} p50 {p50:7.0f} ms   p99 {p99:7.0f} ms   max {top:7.0f} ms")
    return 0 if to_open else 1


if __name__ == "__main__":
    sys.exit(main())
