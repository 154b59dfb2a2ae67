"""Run one Faust worker of the pipeline in this process."""

from __future__ import annotations

import gc
import logging

import faust
from faust.worker import Worker

from streams.bootstrap import Pipeline


def make_worker(pipe_app: faust.App, loglevel: str = "warning") -> Worker:
    worker = Worker(pipe_app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # Faust's Worker sets the root logger to DEBUG so that its terminal spinner turns on
    # every record, and leaves it there: then every aiokafka debug() call (three per message)
    # builds a LogRecord that is thrown away. No spinner, no DEBUG root logger.
    worker.spinner = None
    return worker


GC_GEN0_THRESHOLD = 50_000


def _settle_gc() -> None:
    """The incident domain allocates many short-lived structs per post, so the collector ran
    often, and each full pass walked the classifier's vocabulary, the place tables and the
    config too. Freeze what start-up built (it lives as long as the process) and collect the
    young generation less often: end to end 6,100 → 6,700 posts/s (benchmarks/pipeline.py,
    every post an incident post). Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, older, oldest)


def run_worker(pipe: Pipeline, loglevel: str = "warning") -> int:
    """Run `pipe` (from streams.bootstrap) until the worker stops; its exit code."""
    _settle_gc()
    worker = make_worker(pipe.app, loglevel)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        logging.getLogger().setLevel(logging.WARNING)
    return 0
