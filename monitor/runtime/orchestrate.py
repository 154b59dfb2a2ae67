"""`monitor run`: broker, archive replay, demo feed, one live worker with the status page.

Start order matters: topics exist before anything is written (co-partitioning needs their
partition count); the archive is replayed into `posts.classified` before the worker starts, and
the worker's wall-clock ticks come after it on every partition, so a deadline that passed while
the monitor was down fires once, on the first tick, after state is rebuilt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from monitor.config import (
    CityConfig,
    ConfigError,
    evidence_policy,
    incident_params,
    ladder_path,
    load_config,
)
from monitor.domain.evidence import EvidencePolicy
from monitor.domain.model import Post
from monitor.metrics import Metrics
from monitor.runtime.broker import BundledBroker
from monitor.runtime.datadir import Runtime, data_dir, default_db_url, notify_db_url
from monitor.runtime.guard import close_stores, open_stores
from monitor.runtime.producer import ensure_topics, replay_records, send_all
from monitor.runtime.serve import metrics_in_worker
from monitor.runtime.supervise import Supervised
from monitor.store import Store
from monitor.topics import DeadLetter, Topic, topic
from streams.bootstrap import bootstrap
from streams.records import encoder
from streams.settings import StreamSettings
from streams.worker import run_worker


def demo_posts(now: datetime) -> list[Post]:
    """Project-written demo posts about Ziyang places, timed relative to `now` so that the
    clocks are already running (the grade II blast is near its 5-hour deadline)."""
    text = resources.files("monitor.runtime").joinpath("data/demo_posts.jsonl").read_text("utf-8")
    posts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        at = now - timedelta(minutes=data.pop("minutes_ago"))
        posts.append(msgspec.convert({**data, "published_at": at, "observed_at": at}, Post))
    return posts


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _stop_cleanly(signum: int, _frame: object) -> None:
    # Until the worker installs its own handlers, SIGTERM would end the process on the spot:
    # no web process stopped, no WAL checkpoint, a stale runtime.json. Unwind instead.
    raise SystemExit(0)


def run_embedded(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _stop_cleanly)
    directory = data_dir(args.data_dir)
    db = args.db or default_db_url(directory)
    existing = Runtime.read(directory)
    if existing is not None:
        _say(f"错误：该数据目录已有运行中的监测进程 (pid {existing.pid})：{directory}")
        return 2
    cfg = load_config(args.config)
    store = open_stores(directory, db, _say)
    broker = None
    web: Supervised | None = None
    if args.broker:
        broker_url = args.broker
    else:
        broker = BundledBroker(log_path=directory / "broker.log", die_with_parent=True).start()
        broker_url = broker.url
    try:
        asyncio.run(ensure_topics(broker_url, "", args.partitions))
        if broker is not None:
            _replay(store, cfg, broker_url)
        if not args.no_demo:
            _feed_demo(store, broker_url)
        Runtime(
            broker=broker_url, prefix="", partitions=args.partitions, db=db,
            web_port=args.port, pid=os.getpid(), worker_port=args.worker_port or None,
            future_skew_s=incident_params(cfg).future_skew_s,
        ).write(directory)  # fmt: skip
        web = _web(args, directory, broker_url, store)
        _say(f"舆情回应监测已启动：状态页 http://127.0.0.1:{args.port}/  数据目录 {directory}")
        settings = StreamSettings(
            broker=broker_url, partitions=args.partitions, live=True, tick_interval=args.tick
        )
        metrics = Metrics.create()
        served = (
            metrics_in_worker(args.worker_port, metrics.registry, host=args.host)
            if args.worker_port
            else None
        )
        notify = _notify(args, cfg, directory, broker_url, db, metrics.registry)
        confirm = _auto_confirm(evidence_policy(cfg), db, broker_url)

        def attach(app: Any) -> None:
            if served is not None:
                served(app)
            notify(app)
            confirm(app)

        pipe = bootstrap(settings, cfg, store=store, metrics=metrics, on_app=attach)
        return run_worker(pipe)
    finally:
        if web is not None:
            web.stop()
        Runtime.remove(directory)
        store.close()
        close_stores(directory, db, _say)
        if broker is not None:
            broker.stop()


def _replay(store: Store, cfg: CityConfig, broker_url: str) -> None:
    """The bundled broker starts empty: rebuild state from the archive. A row that cannot be
    replayed goes to `dlq` with the reason; it never stops the start."""
    dead: list[DeadLetter] = []
    records = replay_records(store.archived(), cfg, dead)
    asyncio.run(send_all(broker_url, topic(Topic.CLASSIFIED), records))
    if dead:
        letters = [(b"archive", encoder.encode(d)) for d in dead]
        asyncio.run(send_all(broker_url, topic(Topic.DLQ), letters))
        _say(f"警告：存档中有 {len(dead)} 条记录无法重放，已转入死信队列（dlq）")
    _say(f"已从存档重放 {len(records)} 条记录")


def _feed_demo(store: Store, broker_url: str) -> None:
    posts = demo_posts(datetime.now(UTC))
    bodies = [(p.id, encoder.encode(p)) for p in posts]
    # archived once: on later starts the archive (with the first start's times) replays them
    new = store.archive_many([("post", pid, b, None) for pid, b in bodies])
    if new:
        records = ((pid.encode(), b) for pid, b in bodies)
        asyncio.run(send_all(broker_url, topic(Topic.RAW), records))
        _say(f"已送入 {new} 条演示帖子")


def _web(args: argparse.Namespace, directory: Path, broker_url: str, store: Store) -> Supervised:
    """`monitor web` as a supervised child. A newcomer gets a local admin, its token printed
    once (the store keeps only its hash)."""
    from monitor.runtime.accounts import (
        LOCAL_ADMIN,
        UsersError,
        ensure_local_admin,
        import_legacy_users,
    )

    now = datetime.now(UTC)
    try:
        imported = import_legacy_users(store, directory, now)
    except UsersError as exc:
        _say(f"错误：{exc}")
        raise SystemExit(2) from None
    if imported:
        _say(f"已将 users.yaml 的 {imported} 个用户导入数据库（只存令牌的哈希），并删除了该文件")
    token = ensure_local_admin(store, now)
    url = f"http://127.0.0.1:{args.port}/"
    if token:
        _say(f"值班台：{url}?token={token}（本机管理员令牌，只显示这一次，请妥善保存）")
    else:
        _say(f"值班台：{url}（令牌只在创建时显示；遗失可运行 monitor users rotate "
             f"{LOCAL_ADMIN} --data-dir {directory}）")  # fmt: skip
    argv = [
        sys.executable, "-m", "monitor", "web", "--data-dir", str(directory), "--db", store.url,
        "--broker", broker_url, "--port", str(args.port), "--host", args.host,
        "--outbox-db", notify_db_url(directory, store.url),
    ]  # fmt: skip
    if args.config:
        argv += ["--config", args.config]
    return Supervised("值班台", argv, directory / "web.log", say=_say).start()


def _auto_confirm(policy: EvidencePolicy, db: str, broker_url: str) -> Callable[[Any], None]:
    """Official posts confirm themselves as releases only where the city config allows it."""
    from monitor.runtime.actions import topic_sender
    from monitor.runtime.auto_confirm import auto_confirm_in_worker

    if policy.auto_confirm:
        _say(f"官方账号发布相似度达 {policy.auto_confirm_at} 即自动确认为权威发布")
    return auto_confirm_in_worker(db, policy, topic_sender(broker_url, topic(Topic.ACTIONS)))


def _notify(
    args: argparse.Namespace, cfg: CityConfig, directory: Path, broker_url: str, db: str,
    registry: Any,
) -> Callable[[Any], None]:
    """notifications topic → outbox → channels; dry run unless --channels names real ones. The
    city config names the escalation file and the public URL links point to."""
    from monitor.runtime.notify_bridge import notify_in_worker

    record_to = directory / "notifications-dry-run.jsonl"
    outbox_db = notify_db_url(directory, db)
    channels = getattr(args, "channels", None)
    public_url = getattr(args, "public_url", None) or cfg.escalation.public_url
    if not public_url:
        _say("通知中不附链接：未配置对外访问地址（escalation.public_url 或 --public-url）")
    if channels:
        _say(f"通知渠道：{channels}（其余渠道仅记录不发送）")
    else:
        _say(f"通知为演练模式：只记录不发送，见 {record_to}")
    try:
        return notify_in_worker(
            broker_url, "", outbox_db, registry, store_db=db, record_to=record_to,
            channels_file=channels, link_base=public_url, ladder=ladder_path(cfg),
        )  # fmt: skip
    except (ConfigError, ValueError) as exc:  # a bad channels or ladder file
        _say(f"错误：通知渠道配置无效：{exc}")
        raise SystemExit(2) from None
