"""A worker's /metrics, served inside its event loop as a Faust task.

Only /metrics: the dashboard and API run in their own process (`monitor web`), so that a
worker's CPU-bound batches never delay an answer. A scrape every 15 s costs the loop nothing
worth measuring."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import faust
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from monitor.runtime.datadir import LOCALHOST_WEB


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The Faust worker owns SIGINT/SIGTERM and stops this task on shutdown.
        yield


def metrics_in_worker(
    port: int, registry: CollectorRegistry, *, host: str = LOCALHOST_WEB
) -> Callable[[faust.App], None]:
    """/metrics on host:port, from the worker's own registry."""

    def attach(app: faust.App) -> None:
        async def metrics(_: Request) -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        web_app = Starlette(routes=[Route("/metrics", metrics)])

        @app.task
        async def web() -> None:
            # no lifespan: Faust cancels this task on shutdown, which a lifespan handler
            # would report as an error
            config = uvicorn.Config(
                web_app, host=host, port=port, log_level="warning", lifespan="off"
            )
            await _EmbeddedServer(config).serve()

    return attach
