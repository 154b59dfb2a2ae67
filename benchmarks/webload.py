"""A load generator for the dashboard and API, reusable by any benchmark:

    result = await web_load(base, token, rate=100, clients=50, seconds=30)
    print(result.report("while ingesting"))

- `clients` live dashboards: each holds `/api/stream` open (Server-Sent Events) and counts what
  is pushed; `opened` messages are kept with their arrival time, so a caller that fed an
  incident at a known time can measure the push (`pushed_after`).
- `rate` requests per second, open loop: request i is started at start + i/rate whether or not
  the earlier ones have finished, so a slow server shows as latency, never as a lower rate
  (no coordinated omission). The mix is what a dashboard asks: the list, the totals, one
  incident, its posts.

Latency is measured per request from its scheduled start, in this process, with aiohttp (it
costs the client less CPU per request than httpx, and the client shares the machine with the
server it measures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

Pick = Callable[[random.Random, list[str]], str]
NO_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The load's knobs, `--rate` and `--clients`, defaulting to the issue's duty room: 50
    dashboards open, 100 API requests/s."""
    parser.add_argument("--rate", type=float, default=100, help="API requests per second")
    parser.add_argument("--clients", type=int, default=50, help="live dashboards (SSE)")


def dashboard_mix(rng: random.Random, ids: list[str]) -> str:
    """What an open dashboard asks for, roughly in the proportions it asks."""
    roll = rng.random()
    if not ids or roll < 0.35:
        return "/api/incidents"
    if roll < 0.55:
        return "/api/totals"
    incident = rng.choice(ids)
    if roll < 0.85:
        return f"/api/incidents/{incident}"
    return f"/api/incidents/{incident}/posts?page=1&size=20"


@dataclass
class Pushed:
    at: float  # time.monotonic() when it arrived
    event: str
    data: dict[str, Any]


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    sse_connected: int = 0
    sse_messages: int = 0
    sse_failures: Counter[str] = field(default_factory=Counter)
    opened: list[list[Pushed]] = field(default_factory=list)  # per live client

    @property
    def errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    def percentile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    def pushed_after(self, title_mark: str, since: float) -> list[float]:
        """Seconds from `since` until each live client got the `opened` message whose title
        holds `title_mark` (clients that never got it are left out: see `missed`)."""
        found = []
        for client in self.opened:
            hit = next((p for p in client if title_mark in str(p.data.get("title", ""))), None)
            if hit is not None:
                found.append(hit.at - since)
        return found

    def report(self, name: str) -> str:
        ms = {q: self.percentile(q) * 1000 for q in (0.5, 0.9, 0.99)}
        rate = len(self.latencies) / self.seconds if self.seconds else 0
        codes = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        return (
            f"{name}: {len(self.latencies)} requests ({rate:.0f}/s), p50 {ms[0.5]:.0f} ms, "
            f"p90 {ms[0.9]:.0f} ms, p99 {ms[0.99]:.0f} ms, max "
            f"{max(self.latencies, default=0) * 1000:.0f} ms; errors {self.errors} ({codes}); "
            f"live clients connected {self.sse_connected}, messages pushed "
            f"{self.sse_messages}, stream failures {sum(self.sse_failures.values())}"
        )


async def _live_client(
    session: aiohttp.ClientSession, token: str, stop: asyncio.Event, result: LoadResult,
    mine: list[Pushed],
) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    last: str | None = None
    while not stop.is_set():
        if last:
            headers["Last-Event-ID"] = last
        try:
            async with session.get("/api/stream", headers=headers, timeout=NO_TIMEOUT) as resp:
                if resp.status != 200:
                    result.sse_failures[str(resp.status)] += 1
                    await asyncio.sleep(1)
                    continue
                result.sse_connected += 1
                event, data = "message", ""
                async for raw in resp.content:
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("id:"):
                        last = line[3:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line == "" and data:
                        result.sse_messages += 1
                        if event == "incident":
                            body = json.loads(data)
                            if body.get("kind") == "opened":
                                mine.append(Pushed(time.monotonic(), event, body["data"]))
                        event, data = "message", ""
                    if stop.is_set():
                        return
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if stop.is_set():
                return
            result.sse_failures[type(exc).__name__] += 1
            await asyncio.sleep(1)


async def _ids(session: aiohttp.ClientSession, token: str) -> list[str]:
    try:
        async with session.get("/api/incidents",
                               headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
            return [r["id"] for r in await resp.json()] if resp.status == 200 else []
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return []


async def web_load(
    base: str,
    token: str,
    *,
    rate: float = 100,
    clients: int = 50,
    seconds: float = 30,
    pick: Pick = dashboard_mix,
    seed: int = 13,
    timeout: float = 30,
    until: asyncio.Event | None = None,
) -> LoadResult:
    """Run the load for `seconds`, or until `until` is set if given sooner, and return what it
    measured (`result.seconds`: how long it ran)."""
    rng = random.Random(seed)
    result = LoadResult(seconds=seconds)
    stop = asyncio.Event()
    limit = aiohttp.TCPConnector(limit=int(rate * 2) + 10)
    async with (
        aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=clients + 5)) as live,
        aiohttp.ClientSession(base, connector=limit,
                              timeout=aiohttp.ClientTimeout(total=timeout)) as session,
    ):  # fmt: skip
        streams = []
        for _ in range(clients):
            mine: list[Pushed] = []
            result.opened.append(mine)
            streams.append(asyncio.create_task(_live_client(live, token, stop, result, mine)))
        ids = await _ids(session, token)
        headers = {"Authorization": f"Bearer {token}"}
        pending: set[asyncio.Task[None]] = set()

        async def one(path: str, due: float) -> None:
            try:
                async with session.get(path, headers=headers) as resp:
                    await resp.read()
                    result.statuses[str(resp.status)] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                result.statuses[type(exc).__name__] += 1
            result.latencies.append(time.monotonic() - due)

        async def refresh_ids() -> None:
            nonlocal ids
            while not stop.is_set():
                await asyncio.sleep(2)
                ids = await _ids(session, token) or ids

        refresher = asyncio.create_task(refresh_ids())
        start = time.monotonic()
        i = 0
        while (now := time.monotonic()) < start + seconds and not (until and until.is_set()):
            due = start + i / rate
            if due > now:
                await asyncio.sleep(due - now)
            task = asyncio.create_task(one(pick(rng, ids), due))
            pending.add(task)
            task.add_done_callback(pending.discard)
            i += 1
        result.seconds = time.monotonic() - start
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        stop.set()
        for t in [*streams, refresher]:
            t.cancel()
        for t in [*streams, refresher]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    return result
