"""Notifier throughput: ladder planning, and outbox delivery through dry-run channels.

    .venv/bin/python -m benchmarks.notify [--n 2000] [--pg postgresql+psycopg://postgres@127.0.0.1/test]

Planning: `escalation.plan` with the shipped Ziyang ladder over mixed steps, grades and bodies.
Delivery: submit `--n` grade-II "opened" intents (5 channel rows each), then drain the outbox
with dry-run channels, which isolates the outbox cost (claim, mark, render) from the network.
Each row is committed before and after its send, which is what makes a restart safe; the
figure shows what that costs. Robots are limited to 20 requests a minute anyway, so the bound
that matters in production is the services', not this one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from monitor.domain import escalation as esc
from monitor.domain.model import Grade
from monitor.notify.bootstrap import create_notifier
from monitor.notify.config import load_ladder
from monitor.notify.delivery import DeliveryPolicy
from monitor.notify.message import ClockView, OutboxMessage

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
BODIES = ("市应急管理局", "市公安局", "雁江区人民政府", "安岳县人民政府", "乐至县人民政府")
STEPS = (esc.Step.OPENED, esc.Step.UNACKNOWLEDGED, esc.Step.WARNING, esc.Step.BREACH)


def bench_plan(n: int) -> float:
    ladder = load_ladder().ladder
    triggers = [
        esc.Trigger(key=f"k{i}", incident_id=f"i{i}", step=STEPS[i % 4], grade=list(Grade)[i % 4],
                    at=NOW, bodies=(BODIES[i % 5],), warning_before_min=60 if i % 3 else 120)
        for i in range(n)
    ]  # fmt: skip
    start = time.perf_counter()
    for t in triggers:
        esc.plan(ladder, t)
    return n / (time.perf_counter() - start)


def message(i: int) -> OutboxMessage:
    return OutboxMessage(
        key=f"bench:{i}", incident_id=f"inc{i}", step=esc.Step.OPENED, grade=Grade.II, at=NOW,
        title=f"基准测试事件{i}", place="资阳市雁江区", bodies=(BODIES[i % 5],),
        clocks=(ClockView(name="release", deadline=NOW + timedelta(hours=5)),),
        link=f"https://yuqing.example.invalid/incidents/inc{i}",
    )  # fmt: skip


async def bench_delivery(db_url: str, n: int) -> tuple[float, float, int]:
    big = DeliveryPolicy(batch=1000)
    notifier = create_notifier(db_url, CollectorRegistry(), dry_run=True, clock=lambda: NOW,
                               policy=big)  # fmt: skip
    for name in notifier.channels:  # dry-run: no service limit to honour
        notifier._window(name).limit = 10**9
    start = time.perf_counter()
    for i in range(n):
        notifier.submit(message(i))
    submitted = time.perf_counter()
    sent = 0
    while True:
        got = await notifier.run_once()
        if not got:
            break
        sent += got
    done = time.perf_counter()
    return n / (submitted - start), sent / (done - submitted), sent


def pg_url(base: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with create_engine(base).begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return f"{base}?options=-csearch_path%3D{schema}", schema


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--pg", default=None, help="PostgreSQL URL to measure as well")
    args = ap.parse_args()
    print(f"plan: {bench_plan(20_000):,.0f} triggers/s (Ziyang ladder)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        sub, rows, sent = asyncio.run(bench_delivery(url, args.n))
        print(f"sqlite: submit {sub:,.0f} intents/s; deliver {rows:,.0f} rows/s ({sent} rows)")
    if args.pg:
        url, schema = pg_url(args.pg)
        try:
            sub, rows, sent = asyncio.run(bench_delivery(url, args.n))
            print(
                f"postgres: submit {sub:,.0f} intents/s; deliver {rows:,.0f} rows/s ({sent} rows)"
            )
        finally:
            with create_engine(args.pg).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
