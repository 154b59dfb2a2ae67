"""`monitor notify test|route|check`: try channels, show who the ladder reaches, check a ladder."""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import REGISTRY

from monitor.config import ConfigError, load_config
from monitor.domain.escalation import Step, Trigger, plan
from monitor.domain.model import Grade
from monitor.notify.bootstrap import create_notifier
from monitor.notify.channels import SendResult, make_channel
from monitor.notify.config import (
    DEFAULT_LADDER,
    ChannelSpec,
    city_bodies,
    load_channels,
    load_ladder,
)
from monitor.notify.delivery import Notifier
from monitor.notify.message import ClockView, OutboxMessage, render
from monitor.topics import Topic, topic


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("notify", help="notification channels and the escalation ladder")
    sub = p.add_subparsers(dest="notify_command", metavar="ACTION", required=True)

    t = sub.add_parser("test", help="send a sample grade-II escalation through each channel")
    t.add_argument("--channels", required=True, help="YAML file with a `channels:` list")
    t.add_argument("--link", default="http://127.0.0.1:8000/incidents/TEST-0001")
    t.set_defaults(func=cmd_test)

    r = sub.add_parser("route", help="show who the ladder notifies for a step")
    r.add_argument("--ladder", default=str(DEFAULT_LADDER))
    r.add_argument("--step", required=True, choices=[s.value for s in Step])
    r.add_argument("--grade", choices=[g.value for g in Grade])
    r.add_argument("--body", action="append", default=[], help="responsible body (repeatable)")
    r.add_argument("--warning-before-min", type=int)
    r.add_argument("--outside", action="store_true",
                   help="an incident outside the jurisdiction (watch only)")  # fmt: skip
    r.set_defaults(func=cmd_route)

    d = sub.add_parser("run", help="drain the notification outbox (recover, then send)")
    d.add_argument("--db", required=True, help="SQLAlchemy URL of the outbox database")
    d.add_argument("--ladder", default=str(DEFAULT_LADDER))
    d.add_argument("--dry-run", action="store_true", help="record instead of sending (replays)")
    d.add_argument("--once", action="store_true", help="one pass, then exit")
    d.add_argument("--interval", type=float, default=1.0, help="seconds between passes")
    d.add_argument("--port", type=int, help="serve /metrics on this port")
    d.add_argument("--host", default="127.0.0.1", help="address for /metrics")
    d.add_argument(
        "--broker", help="kafka://HOST:PORT: also fill the outbox from the notifications topic"
    )
    d.add_argument("--prefix", default="", help="topic prefix used by the workers")
    d.add_argument("--store", help="database URL of the incident store (clocks in messages)")
    d.add_argument("--link-base", help="dashboard URL for the incident links")
    d.set_defaults(func=cmd_run)

    c = sub.add_parser("check", help="validate an escalation ladder file")
    c.add_argument("--ladder", default=str(DEFAULT_LADDER))
    c.add_argument("--city", default=None, help="city config whose bodies contacts must name")
    c.set_defaults(func=cmd_check)


def sample_message(now: datetime, link: str) -> OutboxMessage:
    """A grade-II incident 1 h 48 min after its first post: 3 h 12 min left to publish."""
    start = now - timedelta(hours=1, minutes=48)
    return OutboxMessage(
        key=f"notify-test/{now.isoformat()}", incident_id="TEST-0001", step=Step.OPENED,
        grade=Grade.II, at=now, title="【测试】雁江区某化工厂爆炸（通知渠道测试，请勿处置）",
        place="资阳市雁江区", bodies=("市应急管理局", "雁江区人民政府"), category="work_safety",
        clocks=(ClockView(name="release", deadline=start + timedelta(hours=5)),
                ClockView(name="press_conference", deadline=start + timedelta(hours=24))),
        link=link,
    )  # fmt: skip


def cmd_test(args: argparse.Namespace) -> int:
    try:
        specs = load_channels(args.channels)
    except ConfigError as exc:
        print(exc)
        return 2
    results = asyncio.run(_send_all(specs, args.link))
    for spec, result in zip(specs, results, strict=True):
        status = "delivered" if result.ok else "failed"
        print(f"{spec.name} ({spec.type}): {status}: {result.answer}")
    return 0 if all(r.ok for r in results) else 1


async def _send_all(specs: list[ChannelSpec], link: str) -> list[SendResult]:
    now = datetime.now(UTC)
    msg = sample_message(now, link)
    note = render(msg, now)
    async with httpx.AsyncClient() as client:
        channels = [make_channel(s, client) for s in specs]
        return list(
            await asyncio.gather(*(c.send(note, (), f"{msg.key}/{c.name}", now) for c in channels))
        )


def cmd_route(args: argparse.Namespace) -> int:
    try:
        settings = load_ladder(args.ladder)
    except ConfigError as exc:
        print(exc)
        return 2
    trigger = Trigger(
        key="route-test", incident_id="route-test", step=Step(args.step),
        grade=Grade(args.grade) if args.grade else None, at=datetime.now(UTC),
        bodies=tuple(args.body), warning_before_min=args.warning_before_min,
        in_jurisdiction=not args.outside,
    )  # fmt: skip
    decided = plan(settings.ladder, trigger)
    print(f"routes: {', '.join(decided.routes)}")
    for d in decided.deliveries:
        people = ", ".join(f"{r.name}[{r.role.label}]" for r in d.recipients)
        held = f" (held until {d.not_before.isoformat()})" if d.not_before > trigger.at else ""
        print(f"  {d.channel}: {people}{held}")
    for u in decided.unreachable:
        print(f"  UNREACHABLE: {u.role.value} for {u.body or 'city'}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    try:
        settings = load_ladder(args.ladder, city_bodies(load_config(args.city)))
    except ConfigError as exc:
        print(exc)
        return 1
    ladder = settings.ladder
    counts = f"{len(ladder.contacts)} contacts, {len(settings.channels)} channels"
    print(f"ok: {counts}, version {ladder.version}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    try:
        notifier = create_notifier(args.db, REGISTRY, args.ladder, dry_run=args.dry_run)
    except ConfigError as exc:
        print(exc)
        return 2
    uncertain = notifier.recover()
    if uncertain:
        print(f"{len(uncertain)} notification(s) cut off by the last stop: marked uncertain")
    if args.port:
        from prometheus_client import start_http_server

        start_http_server(args.port, addr=args.host, registry=REGISTRY)
        print(f"metrics at http://{args.host}:{args.port}/metrics", flush=True)
    if args.once:
        sent = asyncio.run(notifier.run_once())
        print(f"sent {sent}; outbox: {notifier.outbox.count_by_status()}")
        return 0
    if args.broker:
        asyncio.run(_bridge_until_signal(notifier, args))
    else:
        asyncio.run(_run_until_signal(notifier, args.interval))
    return 0


async def _run_until_signal(notifier: Notifier, interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await notifier.run_forever(stop, interval)


async def _bridge_until_signal(notifier: Notifier, args: argparse.Namespace) -> None:
    """The notifications topic → outbox bridge and the sender, for a scaled-out deployment."""
    from monitor.runtime.notify_bridge import NotifyBridge, run_notifier
    from monitor.store import Store

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = Store(args.store) if args.store else None
    if store is not None:
        from monitor.notify.audit import audit_deliveries

        notifier.on_sent = audit_deliveries(store)
    bridge = NotifyBridge(
        args.broker, topic(Topic.NOTIFICATIONS, args.prefix), notifier,
        dlq_topic=topic(Topic.DLQ, args.prefix),
        link_base=args.link_base,
    )  # fmt: skip
    try:
        await run_notifier(notifier, bridge, stop)
    finally:
        if store is not None:
            store.close()
