"""`monitor web`: the dashboard, API and its /metrics in a process of their own.

It reads the store and sends actions to the broker; it shares nothing in memory with the
pipeline. Inside the Faust worker's event loop the API answered p50 5.7 s while 500 posts/s
were being pushed; here the pipeline's CPU-bound batches cannot delay an answer.
`monitor run` starts this process and restarts it if it dies (monitor/runtime/supervise.py).
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, ProcessCollector

from monitor.notify.outbox import Outbox
from monitor.runtime.datadir import data_dir, default_db_url
from monitor.store import Store
from monitor.topics import Topic, topic

log = logging.getLogger(__name__)
# Seconds uvicorn gives open connections (live dashboards) to finish on shutdown.
GRACEFUL_S = 3


def build(args: argparse.Namespace) -> tuple[FastAPI, Store]:
    from monitor.config import evidence_policy, incident_params, load_config
    from monitor.runtime.producer import TopicSender
    from monitor.web.auth import Users
    from monitor.web.meta import Meta
    from monitor.web.status import create_app

    db = args.db or default_db_url(data_dir(args.data_dir))
    cfg = load_config(args.config)
    store = Store(db)
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # RSS and CPU of this process, beside the worker's
    sender = TopicSender(args.broker, topic(Topic.ACTIONS, args.prefix)) if args.broker else None
    app = create_app(
        store, registry, users=Users.of(store), send=sender,
        evidence=evidence_policy(cfg), meta=Meta.of(cfg),
        skew_s=incident_params(cfg).future_skew_s,
        outbox=_outbox(getattr(args, "outbox_db", None)),
    )  # fmt: skip
    return app, store


def _outbox(url: str | None) -> Outbox | None:
    if not url:
        return None
    from monitor.notify.bootstrap import outbox_engine

    outbox = Outbox(outbox_engine(url))
    outbox.create()  # the notifier may not have started yet
    return outbox


def run_web(args: argparse.Namespace) -> int:
    from monitor.config import ConfigError

    try:
        app, store = build(args)
    except (ConfigError, ValueError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_S,
    )  # fmt: skip
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        store.close()
    # uvicorn returns when it could not bind the port, too: say so with a failing code
    return 0 if server.started else 1
