"""Run one Faust worker of the pipeline in this process."""

from __future__ import annotations

import logging
from collections.abc import Callable

import faust
from faust.worker import Worker

from monitor.metrics import Metrics
from streams.app import build_app
from streams.settings import StreamSettings


def make_worker(pipe_app: faust.App, loglevel: str = "warning") -> Worker:
    worker = Worker(pipe_app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # Faust's Worker sets the root logger to DEBUG so that its terminal spinner turns on
    # every record, and leaves it there: then every aiokafka debug() call (three per message)
    # builds a LogRecord that is thrown away. No spinner, no DEBUG root logger.
    worker.spinner = None
    return worker


def run_worker(
    settings: StreamSettings,
    metrics: Metrics | None = None,
    on_app: Callable[[faust.App], None] | None = None,
    loglevel: str = "warning",
) -> int:
    pipe = build_app(settings, metrics, on_app)
    worker = make_worker(pipe.app, loglevel)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    return 0
