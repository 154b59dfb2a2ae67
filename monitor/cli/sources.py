"""`monitor sources check|run|replay`: the connectors from the command line. (`monitor replay`,
the sandbox that replays history with a report, is monitor/cli/replay.py.)"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

from connectors.checkpoint import DEFAULT_URL, CheckpointStore
from monitor.config.loader import ConfigError
from monitor.topics import Topic
from monitor.topics import topic as topic_name

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"


def register(subparsers: Any) -> None:
    sources = subparsers.add_parser("sources", help="check or run the configured sources")
    sub = sources.add_subparsers(dest="sources_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="try every source once and report")
    check.add_argument("--sources", required=True, help="sources YAML file")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="poll every source into posts.raw until stopped")
    run.add_argument("--sources", required=True, help="sources YAML file")
    _sink_args(run)
    run.add_argument("--host", default="127.0.0.1", help="push endpoint and /metrics host")
    run.add_argument(
        "--port",
        type=int,
        default=None,
        help="serve POST /push/{name}, GET /sources/health and /metrics on this port",
    )
    run.add_argument(
        "--config",
        default=None,
        help="city config YAML whose official_accounts mark a department's own posts "
        "official (default: Ziyang, as the worker reads)",
    )
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser(
        "replay", help="push a JSONL/CSV history into posts.raw (of a running monitor)"
    )
    replay.add_argument("file", help="history file (.jsonl or .csv)")
    replay.add_argument("--format", choices=["jsonl", "csv"], default=None)
    replay.add_argument("--name", default=None, help="source name (default: file-<stem>)")
    replay.add_argument("--batch-size", type=int, default=500)
    replay.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    _sink_args(replay)
    replay.set_defaults(func=cmd_replay)


def _sink_args(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--bootstrap", default=None, help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})"
    )
    target.add_argument("--out", default=None, help="append posts to this JSONL file instead")
    target.add_argument(
        "--data-dir",
        default=None,
        help="feed the `monitor run` of this data dir: archive each post in its store, then "
        "send it to its broker",
    )
    parser.add_argument("--topic", default=Topic.RAW.value)
    parser.add_argument(
        "--checkpoint",
        default=DEFAULT_URL,
        help=f"SQLAlchemy URL of the checkpoint store (default {DEFAULT_URL})",
    )


def _load(path: str) -> Any:
    from connectors.config import load_sources

    try:
        return load_sources(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    from connectors.app import check_all, summary

    cfg = _load(args.sources)
    if cfg is None:
        return 2
    results = asyncio.run(check_all(cfg))
    for result in results:
        print(result.line())
    failed = sum(not r.ok for r in results)
    print(f"{len(results) - failed} of {len(results)} sources answered", file=sys.stderr)
    return summary(results)


def _sink(args: argparse.Namespace) -> Any:
    from connectors.sink import JsonlFileSink, KafkaSink

    if args.out:
        return JsonlFileSink(args.out)
    if args.data_dir:
        return _monitor_sink(args.data_dir, args.topic, args.checkpoint)
    bootstrap = args.bootstrap or os.environ.get(BOOTSTRAP_ENV)
    if not bootstrap:
        raise SystemExit(f"error: give --bootstrap, --out or set ${BOOTSTRAP_ENV}")
    return KafkaSink(bootstrap, topic=args.topic)


def _monitor_sink(directory: str, topic: str, checkpoint_url: str) -> Any:
    """Archive-then-send into the embedded monitor of a data dir, found again at every batch:
    the monitor may start after the connector, and its broker moves when it restarts."""
    from pathlib import Path

    from sqlalchemy import create_engine

    from connectors.monitor_sink import Endpoint, MonitorSink, Unsent
    from monitor.runtime.datadir import Runtime
    from monitor.runtime.producer import bootstrap

    path = Path(directory).expanduser().resolve()

    def resolve() -> Endpoint | None:
        rt = Runtime.read(path)
        if rt is None:
            return None
        dlq = topic_name(Topic.DLQ, rt.prefix)
        return Endpoint(bootstrap(rt.broker), f"{rt.prefix}{topic}", dlq, rt.db)

    if resolve() is None:
        print(f"监测尚未运行（{path}）：等它启动后再收帖子", file=sys.stderr)
    unsent = Unsent(create_engine(checkpoint_url))
    return MonitorSink(resolve, StoreArchive, unsent, dead_letter_file=path / "connector-dlq.jsonl")


class StoreArchive:
    """The monitor's store as the connector's archive: posts by id, idempotent."""

    def __init__(self, url: str) -> None:
        from monitor.store import Store

        self.store = Store(url)

    def archive(self, bodies: Any) -> None:
        self.store.archive_many([("post", pid, body, None) for pid, body in bodies])

    def close(self) -> None:
        self.store.close()


async def _with_sink(sink: Any, body: Any) -> int:
    start = getattr(sink, "start", None)
    if start is not None:
        await start()
    try:
        return int(await body)
    finally:
        stop = getattr(sink, "stop", None)
        if stop is not None:
            await stop()


def cmd_replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prometheus_client import CollectorRegistry

    from connectors.base import Schedule, SourceRunner
    from connectors.http import HttpFetcher, make_client
    from connectors.metrics import ConnectorMetrics
    from connectors.replay import FileSource

    name = args.name or f"file-{Path(args.file).stem}"
    try:
        source = FileSource(name, args.file, format=args.format, batch_size=args.batch_size)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not source.path.is_file():
        print(f"error: {source.path}: no such file", file=sys.stderr)
        return 2
    store = CheckpointStore.from_url(args.checkpoint)
    sink = _sink(args)
    if not getattr(sink, "ready", lambda: True)():
        print(f"error: no running monitor in {args.data_dir} (start `monitor run` there)",
              file=sys.stderr)  # fmt: skip
        return 2
    metrics = ConnectorMetrics.create(CollectorRegistry())

    async def replay() -> int:
        async with make_client() as client:
            schedule = Schedule(max_pages=sys.maxsize, page_pause=args.pause)
            runner = SourceRunner(
                source,
                http=HttpFetcher(client),
                store=store,
                sink=sink,
                metrics=metrics,
                schedule=schedule,
            )
            sent = await runner.poll_once()
        bad = sum(
            sample.value
            for family in metrics.dead_letters.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
        )
        print(f"{name}: {sent} posts sent, {int(bad)} bad records to the dead-letter log")
        return 0

    return asyncio.run(_with_sink(sink, replay()))


def cmd_run(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from connectors.app import ConnectorApp
    from monitor.config import load_config

    cfg = _load(args.sources)
    if cfg is None:
        return 2
    try:
        official = load_config(args.config).official_accounts
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    sink = _sink(args)
    store = CheckpointStore.from_url(args.checkpoint)
    app = ConnectorApp(cfg, sink=sink, store=store, registry=registry, city_official=official)

    async def main() -> int:
        server = _server(app, registry, args.host, args.port) if args.port is not None else None

        def stop() -> None:
            app.stop()
            close_soon = getattr(sink, "close_soon", None)
            if close_soon is not None:
                close_soon()  # a send waiting on a broker that is gone gives up now
            if server is not None:
                server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        tasks = [app.run()]
        if server is not None:
            tasks.append(server.serve())
        await asyncio.gather(*tasks)
        return 0

    return asyncio.run(_with_sink(sink, main()))


# SIGTERM to exit, within the 10 s a supervisor gives: runners get 3 s (connectors/app.py), a
# push in flight 3 s, the sink 2 s to let go of its broker.
PUSH_GRACE = 3


def _server(app: Any, registry: Any, host: str, port: int) -> Any:
    import contextlib
    from collections.abc import Iterator

    import uvicorn
    from prometheus_client import make_asgi_app

    from connectors.push import create_push_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the command's own handler stops the sources and this server together

    web = create_push_app(app.push_service())
    web.add_api_route("/sources/health", app.health, methods=["GET"])
    web.mount("/metrics", make_asgi_app(registry))
    return Server(uvicorn.Config(web, host=host, port=port, log_level="warning",
                                 timeout_graceful_shutdown=PUSH_GRACE))  # fmt: skip
