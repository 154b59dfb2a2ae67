"""A major incident floods the feed: `--posts` posts (default 200,000), all about `--stories`
incidents (default 40, benchmarks/flood_posts.py), pushed into a real `monitor run` (embedded
default, temporary data directory, `--no-demo`) as fast as the broker takes them, while 50 live
dashboards hold /api/stream open and 100 API requests/s are made (benchmarks/webload.py).

    .venv/bin/python -m benchmarks.flood [--posts 200000] [--stories 40] [--rate 100]
                                         [--clients 50] [--sample 5]

Prints: posts/s end to end (first post sent → last post applied), API p50/p99 (client side,
open loop, and the web process's own histogram), peak RSS of each process of the monitor (the
`monitor run` process, which hosts the worker; its `monitor web` child; the broker), memory over
time, and posts applied against the posts the shipped classifier flags (the worker's count,
and the posts the store's incidents hold). Goals (issue 11): all posts applied, API p99 ≤ 200
ms, memory flat after the first minute. Nothing here asserts on speed;
tests/integration/test_flood_run.py checks at a small size that every flagged post is applied.

The posts come from a child process (`--feed`), so encoding 200,000 posts does not stall the
load generator's event loop; the load generator shares the machine with what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from aiokafka import AIOKafkaProducer

from benchmarks._monitor import Running, running_monitor
from benchmarks.dashboard import applied_posts, bucket_quantile, histogram, web_metrics
from benchmarks.flood_posts import flagged_ids, flood_posts, flood_stories
from benchmarks.webload import LoadResult, add_load_arguments, web_load
from monitor.runtime.producer import bootstrap
from monitor.store import Store
from monitor.testing import children, is_monitor_web
from monitor.topics import Topic, topic

STALL_S = 120  # no post applied for this long after the feed ended: report what was applied


# --- the feed (child process) ----------------------------------------------------------------


async def feed(
    broker: str, n: int, stories: int, seed: int, prefix: str = "fl"
) -> dict[str, float]:
    """Send `n` flood posts to posts.raw as fast as the broker acknowledges them (ids `prefix`
    + number: another prefix for another flood into the same monitor)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap(broker), linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    enc = msgspec.json.Encoder()
    raw = topic(Topic.RAW)
    first = time.time()
    sent = 0
    posts = list(flood_posts(flood_stories(stories), n, datetime.now(UTC), seed, prefix))
    try:
        pending = []
        for post in posts:
            pending.append(await producer.send(raw, enc.encode(post), key=post.id.encode()))
            sent += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    last = time.time()
    return {"sent": sent, "first": first, "last": last, "incident": len(flagged_ids(posts))}


# --- the monitor's processes -----------------------------------------------------------------


def processes(run_pid: int) -> dict[str, int]:
    """`run` (the worker runs in it), `web` and `broker`: name → pid."""
    found = {"run (worker)": run_pid}
    for child in children(run_pid):
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if is_monitor_web(child):
            found["web"] = child
        elif any(b"tansu" in a for a in argv):
            found["broker"] = child
        else:
            found[Path(argv[0].decode()).name or str(child)] = child
    return found


def status_mb(pid: int, field_name: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process in MB; NaN once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M)
    return int(found.group(1)) / 1024 if found else float("nan")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


@dataclass
class Sample:
    t: float  # seconds since the feed started
    applied: float
    rss: dict[str, float]
    load: str


@dataclass
class Flood:
    samples: list[Sample] = field(default_factory=list)
    sent: int = 0
    incident: int = 0  # posts the shipped classifier flags: the pipeline applies only these
    first_sent: float = 0.0  # time.time()
    last_sent: float = 0.0
    all_applied_at: float | None = None  # time.time() when applied reached `incident`


async def sample_until(
    run: Running, pids: dict[str, int], flood: Flood, fed: asyncio.Event, every: float,
    start: float, applied0: float,
) -> None:  # fmt: skip
    """Sample RSS and applied posts every `every` s until all incident posts are applied (after
    the feed ended) or nothing moved for STALL_S."""
    last_move, last_applied = time.monotonic(), -1.0
    while True:
        applied = await asyncio.to_thread(applied_posts, run.worker_metrics) - applied0
        rss = {name: status_mb(pid, "VmRSS") for name, pid in pids.items()}
        flood.samples.append(Sample(time.time() - start, applied, rss, loadavg()))
        if applied != last_applied:
            last_move, last_applied = time.monotonic(), applied
        if fed.is_set() and applied >= flood.incident:
            flood.all_applied_at = time.time()
            return
        if fed.is_set() and time.monotonic() - last_move > STALL_S:
            return
        await asyncio.sleep(every)


async def run_flood(run: Running, args: argparse.Namespace) -> tuple[Flood, LoadResult]:
    pids = processes(run.proc.pid)
    flood = Flood()
    fed, done = asyncio.Event(), asyncio.Event()
    applied0 = applied_posts(run.worker_metrics)
    load = asyncio.create_task(web_load(
        run.base, run.token, rate=args.rate, clients=args.clients, seconds=86_400, until=done,
    ))  # fmt: skip
    await asyncio.sleep(3)  # the live clients connect before the flood starts
    start = time.time()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.flood", "--feed", run.broker, str(args.posts),
        str(args.stories), str(args.seed), stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    sampler = asyncio.create_task(sample_until(run, pids, flood, fed, args.sample, start, applied0))
    out, _ = await child.communicate()
    if child.returncode:
        raise SystemExit(f"the feed failed (exit {child.returncode})")
    got = json.loads(out.decode().strip().splitlines()[-1])
    flood.sent, flood.first_sent, flood.last_sent = int(got["sent"]), got["first"], got["last"]
    flood.incident = int(got["incident"])
    fed.set()
    await sampler
    done.set()
    return flood, await load


# --- report ----------------------------------------------------------------------------------


def store_counts(data: Path) -> tuple[int, int]:
    """Incidents in the store and the posts they hold (heat counts every post applied)."""
    store = Store(f"sqlite:///{data / 'monitor.db'}")
    try:
        rows = store.incidents()
        return len(rows), sum(r.state.heat.posts for r in rows)
    finally:
        store.close()


def print_memory(flood: Flood, names: list[str], rows: int = 16) -> None:
    print("memory over time (RSS MB; load average 1 min):")
    print("  " + f"{'s':>6} {'applied':>9} " + " ".join(f"{n:>13}" for n in names) + "  load")
    step = max(1, len(flood.samples) // rows)
    shown = flood.samples[::step]
    if flood.samples and shown[-1] is not flood.samples[-1]:
        shown.append(flood.samples[-1])
    for s in shown:
        print(f"  {s.t:>6.0f} {s.applied:>9.0f} "
              + " ".join(f"{s.rss.get(n, float('nan')):>13.0f}" for n in names)
              + f"  {s.load}")  # fmt: skip
    late = [s for s in flood.samples if s.t >= 60]
    if len(late) >= 2:
        grew = {n: late[-1].rss.get(n, 0) - late[0].rss.get(n, 0) for n in names}
        print("  after the first minute: " + ", ".join(f"{n} {d:+.0f} MB" for n, d in grew.items()))


def report(run: Running, pids: dict[str, int], flood: Flood, load: LoadResult,
           served: tuple[float, float]) -> None:  # fmt: skip
    applied = flood.samples[-1].applied if flood.samples else 0.0
    end = flood.all_applied_at or time.time()
    span = end - flood.first_sent
    feeding = max(flood.last_sent - flood.first_sent, 1e-9)
    print(f"posts sent {flood.sent:,} in {feeding:.1f} s ({flood.sent / feeding:,.0f}/s offered)")
    if flood.all_applied_at:
        print(f"end to end: {flood.incident / span:,.0f} incident posts/s (first post sent → "
              f"last applied, {span:.1f} s)")  # fmt: skip
    else:
        print(f"end to end: NOT all applied; {applied:,.0f} in {span:.1f} s "
              f"({applied / span:,.0f} posts/s)")  # fmt: skip
    incidents, held = store_counts(run.data)
    print(f"posts applied {applied:,.0f} of the {flood.incident:,} the shipped classifier flags "
          f"({flood.sent:,} sent; worker's count); the store's {incidents} incidents hold "
          f"{held:,} posts")  # fmt: skip
    print(load.report("API while flooding"))
    print(f"  server side (the web process's own histogram): p50 ≤ {served[0] * 1000:g} ms, "
          f"p99 ≤ {served[1] * 1000:g} ms")  # fmt: skip
    names = list(pids)
    peaks = {n: status_mb(pid, "VmHWM") for n, pid in pids.items()}
    print("peak RSS: " + ", ".join(f"{n} {mb:.0f} MB" for n, mb in peaks.items()))
    print_memory(flood, names)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--stories", type=int, default=40, help="incidents the posts are about")
    add_load_arguments(parser)
    parser.add_argument("--sample", type=float, default=5, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--feed", nargs=4, metavar=("BROKER", "POSTS", "STORIES", "SEED"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.feed:
        broker, n, stories, seed = args.feed
        print(json.dumps(asyncio.run(feed(broker, int(n), int(stories), int(seed)))))
        return 0
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    with running_monitor("bench-flood-") as run:
        try:
            pids = processes(run.proc.pid)
            print(f"processes: {pids}; {args.posts:,} posts about {args.stories} incidents; "
                  f"{args.clients} live clients, {args.rate:g} API requests/s")  # fmt: skip
            served0 = histogram(web_metrics(run.base), "monitor_web_request_seconds")
            flood, load = asyncio.run(run_flood(run, args))
            served = histogram(web_metrics(run.base), "monitor_web_request_seconds")
            quantiles = (bucket_quantile(served0, served, 0.5),
                         bucket_quantile(served0, served, 0.99))  # fmt: skip
            report(run, pids, flood, load, quantiles)
            print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
        except httpx.TransportError as exc:
            log = run.data.parent / "run.log"
            raise SystemExit(f"the monitor stopped answering: {exc}; see {log}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
