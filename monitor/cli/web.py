"""`monitor web`: the dashboard and API as a process of its own (monitor/web/server.py)."""

from __future__ import annotations

import argparse

from monitor.runtime.datadir import LOCALHOST_WEB, WEB_PORT


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("web", help="serve the duty dashboard and the API (reads the store)")
    w.add_argument("--data-dir", help="data directory (for its default SQLite store)")
    w.add_argument("--db", help="database URL (default: SQLite in the data dir)")
    w.add_argument("--broker", help="kafka://HOST:PORT; without it the API only reads")
    w.add_argument("--prefix", default="", help="topic name prefix")
    w.add_argument("--config", help="city config YAML (default: Ziyang)")
    w.add_argument("--outbox-db",
                   help="database URL of the notifier's outbox: the incident page lists each "
                   "incident's deliveries (sent, held until, failed)")  # fmt: skip
    w.add_argument("--port", type=int, default=WEB_PORT)
    w.add_argument("--host", default=LOCALHOST_WEB,
                   help="address to serve on (0.0.0.0 in a container)")  # fmt: skip
    w.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    from monitor.web.server import run_web

    return run_web(args)
