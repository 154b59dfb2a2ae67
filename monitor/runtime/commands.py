"""The subcommands: run (everything), worker (scale-out), post, incidents, act."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from monitor.jsonl import numbered_lines
from monitor.runtime.datadir import (
    WEB_PORT,
    WORKER_METRICS_PORT,
    Runtime,
    data_dir,
    default_db_url,
)

_post_decoder = msgspec.json.Decoder()


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="run the monitor: broker, worker, store, status page")
    r.add_argument("--data-dir")
    r.add_argument("--config", help="city config YAML (default: Ziyang)")
    r.add_argument("--port", type=int, default=WEB_PORT,
                   help="dashboard, API and the web process's /metrics")  # fmt: skip
    r.add_argument("--worker-port", type=int, default=WORKER_METRICS_PORT,
                   help="the worker's /metrics (0: none)")  # fmt: skip
    r.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (0.0.0.0 in a container, for Prometheus)")  # fmt: skip
    r.add_argument("--no-demo", action="store_true", help="do not feed the demo posts")
    r.add_argument("--broker", help="kafka://HOST:PORT of an external broker")
    r.add_argument("--db", help="database URL (default: SQLite in the data dir)")
    r.add_argument("--partitions", type=int, default=4)
    r.add_argument("--tick", type=float, default=1.0, help="seconds between wall-clock ticks")
    r.add_argument("--channels", help="YAML `channels:` file: send for real (default: dry run)")
    r.set_defaults(func=cmd_run)

    w = sub.add_parser("worker", help="run one pipeline worker (scale-out)")
    w.add_argument("--broker", required=True, help="kafka://HOST:PORT")
    w.add_argument("--db", help="database URL; without it this worker writes no store")
    w.add_argument("--config")
    w.add_argument("--prefix", default="", help="topic name prefix")
    w.add_argument("--partitions", type=int, default=4)
    w.add_argument("--live", action="store_true", help="tick clocks on wall time")
    w.add_argument("--tick", type=float, default=1.0)
    w.add_argument("--port", type=int, help="serve /metrics here")
    w.add_argument("--host", default="127.0.0.1", help="address for --port")
    w.add_argument("--faust-defaults", action="store_true",
                   help="without streams/tuning.py (to measure what it changes)")  # fmt: skip
    w.set_defaults(func=cmd_worker)

    p = sub.add_parser("post", help="feed JSONL posts into the running monitor")
    p.add_argument("file", help="JSONL file, or - for stdin")
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_post)

    i = sub.add_parser("incidents", help="list incidents from the store")
    i.add_argument("--data-dir")
    i.add_argument("--db")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_incidents)

    from monitor.domain.model import Grade
    from monitor.domain.permissions import UserRole
    from monitor.domain.state import ActionKind

    a = sub.add_parser(
        "act", help="record an action on an incident",
        description="Who may record which action, with what evidence, is "
        "monitor/domain/permissions.py. The CLI user has the data dir, so acts as duty staff "
        "by default; --role department --body NAME records a department's own answer under "
        "the department's rules.",
    )  # fmt: skip
    a.add_argument("incident")
    a.add_argument("action", choices=[k.value for k in ActionKind])
    a.add_argument("--at", help="when it happened, ISO 8601 with zone (default: now)")
    a.add_argument("--url", help="evidence URL (required for release and follow_up)")
    a.add_argument("--channel")
    a.add_argument("--place")
    a.add_argument("--grade", choices=[g.value for g in Grade])
    a.add_argument("--reason", help="required for regrade, merge, split and close")
    a.add_argument("--role", choices=[r.value for r in UserRole], default=UserRole.DUTY.value)
    a.add_argument("--body", help="with --role department: the body the department is")
    a.add_argument("--into", help="merge: the incident that survives")
    a.add_argument("--posts", help="split: comma-separated post ids that become a new incident")
    a.add_argument("--by", default=os.environ.get("USER", "duty"))
    a.add_argument("--id", help="action id (default: random); the same id twice is one action")
    a.add_argument("--data-dir")
    a.set_defaults(func=cmd_act)


# --- worker / run ----------------------------------------------------------------------------


def cmd_worker(args: argparse.Namespace) -> int:
    from monitor.config import load_config
    from monitor.metrics import Metrics
    from monitor.runtime.serve import metrics_in_worker
    from monitor.store import Store
    from monitor.store.maintenance import checkpoint, sqlite_path
    from streams.bootstrap import bootstrap
    from streams.settings import StreamSettings
    from streams.worker import run_worker

    settings = StreamSettings(
        broker=args.broker, prefix=args.prefix, partitions=args.partitions, live=args.live,
        tick_interval=args.tick, tuned=not args.faust_defaults,
    )  # fmt: skip
    metrics = Metrics.create()
    on_app = metrics_in_worker(args.port, metrics.registry, host=args.host) if args.port else None
    store = Store(args.db) if args.db else None
    pipe = bootstrap(
        settings, load_config(args.config), store=store, metrics=metrics, on_app=on_app
    )
    level = os.environ.get("MONITOR_LOGLEVEL", "warning")
    try:
        code = run_worker(pipe, loglevel=level)
    finally:
        if store is not None:
            store.close()
    path = sqlite_path(args.db) if args.db else None
    if path is not None:
        checkpoint(path)  # a clean stop leaves the file whole without its WAL
    return code


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.runtime.orchestrate import run_embedded

    return run_embedded(args)


# --- post ------------------------------------------------------------------------------------


def _running(directory: Path) -> Runtime:
    rt = Runtime.read(directory)
    if rt is None:
        raise SystemExit(
            f"monitor is not running for data dir {directory} (no live runtime.json); "
            "start it with: monitor run --data-dir " + str(directory)
        )
    return rt


def parse_posts(stream: IO[bytes], where: str, now: datetime) -> tuple[list[Any], list[str]]:
    """Good posts and one error line per bad record (file:line: reason)."""
    from monitor.domain.model import Post

    posts: list[Post] = []
    errors: list[str] = []
    for number, raw in numbered_lines(stream):
        try:
            data = _post_decoder.decode(raw)
            if not isinstance(data, dict):
                raise ValueError("a line must be a JSON object")
            if isinstance(data.get("id"), int):
                data["id"] = str(data["id"])  # the classify JSONL allows numeric ids
            data.setdefault("observed_at", now.isoformat())
            # "official" is the city config's word (official_accounts), never a line's own
            data.pop("official", None)
            data.pop("department", None)
            post = msgspec.convert(data, Post)
            for field in ("published_at", "observed_at"):
                t = getattr(post, field)
                if t is not None and t.tzinfo is None:
                    raise ValueError(f"{field} {t.isoformat()} has no time zone")
            if not post.text.strip():
                raise ValueError("`text` is empty")
            posts.append(post)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            errors.append(f"{where}:{number}: {exc}")
    return posts, errors


def cmd_post(args: argparse.Namespace) -> int:
    from monitor.store import Store
    from streams.records import encoder

    directory = data_dir(args.data_dir)
    rt = _running(directory)
    now = datetime.now(UTC)
    if args.file == "-":
        posts, errors = parse_posts(sys.stdin.buffer, "<stdin>", now)
    else:
        with open(args.file, "rb") as fh:
            posts, errors = parse_posts(fh, args.file, now)
    for e in errors:
        print(f"rejected {e}", file=sys.stderr)
    bodies = [(p.id, encoder.encode(p)) for p in posts]
    store = Store(rt.db)
    try:
        # Archive first: once archived a post survives a crash of the memory-only broker,
        # because `monitor run` replays the archive at start.
        store.archive_many([("post", pid, body, None) for pid, body in bodies])
    finally:
        store.close()
    from monitor.runtime.producer import send_all
    from monitor.topics import Topic, topic

    raw = topic(Topic.RAW, rt.prefix)
    sent = asyncio.run(send_all(rt.broker, raw, ((pid.encode(), b) for pid, b in bodies)))
    print(f"accepted {sent} posts, rejected {len(errors)}")
    return 1 if errors else 0


# --- incidents -------------------------------------------------------------------------------


def _store_url(args: argparse.Namespace, directory: Path) -> str:
    if getattr(args, "db", None):
        return str(args.db)
    rt = Runtime.read(directory)
    return rt.db if rt else default_db_url(directory)


def cmd_incidents(args: argparse.Namespace) -> int:
    from monitor.runtime.guard import open_store
    from monitor.runtime.views import incident_summary, render_table
    from monitor.store import Store

    directory = data_dir(args.data_dir)
    url = _store_url(args, directory)
    # a store named by --db alone is not this data directory's to vouch for
    store = Store(url) if args.db and not args.data_dir else open_store(directory, url)
    try:
        rows = [incident_summary(r.state) for r in store.incidents()]
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(render_table(rows))
    return 0


# --- act -------------------------------------------------------------------------------------


def cmd_act(args: argparse.Namespace) -> int:
    from monitor.domain.permissions import UserRole, authorize
    from monitor.domain.state import Action, ActionKind
    from monitor.runtime.actions import ActionRefused, submit_action, topic_sender
    from monitor.store import Store
    from monitor.topics import Topic, topic

    directory = data_dir(args.data_dir)
    rt = _running(directory)
    now = datetime.now(UTC)
    try:
        at = datetime.fromisoformat(args.at) if args.at else now
    except ValueError:
        print(f"error: --at {args.at!r} is not an ISO 8601 time", file=sys.stderr)
        return 2
    if at.tzinfo is None:
        print(f"error: --at {args.at} has no time zone (add +08:00 or Z)", file=sys.stderr)
        return 2
    action = Action(
        id=args.id or uuid.uuid4().hex, incident_id=args.incident, kind=args.action,
        by=args.by, at=at, url=args.url, channel=args.channel, place=args.place,
        grade=args.grade, reason=args.reason, target=args.into,
        post_ids=tuple(p.strip() for p in (args.posts or "").split(",") if p.strip()),
    )  # fmt: skip
    store = Store(rt.db)
    send = topic_sender(rt.broker, topic(Topic.ACTIONS, rt.prefix))
    try:
        row = store.incident(args.incident)
        if row is not None:
            refusal = authorize(UserRole(args.role), args.body, ActionKind(args.action), row.state)
            if refusal is not None:
                print(f"error: {refusal.message}", file=sys.stderr)
                return 2
        recorded = asyncio.run(
            submit_action(store, action, send, now, at_given=bool(args.at), source="cli",
                          skew_s=rt.future_skew_s)
        )  # fmt: skip
    except ActionRefused as exc:
        hint = "; see `monitor incidents`" if exc.status == 404 else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    finally:
        store.close()
    again = " (already recorded: same action)" if recorded.duplicate else ""
    print(f"recorded {args.action} on {args.incident} (action {action.id}){again}")
    return 0
