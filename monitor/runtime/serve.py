"""Run the status page inside the worker's event loop, as a Faust task."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import faust
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from monitor.runtime.datadir import LOCALHOST_WEB
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.runtime.actions import Send
    from monitor.web.auth import Users


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The Faust worker owns SIGINT/SIGTERM and stops this task on shutdown.
        yield


def serve_in_worker(
    port: int,
    db: str | None,
    registry: CollectorRegistry,
    *,
    users: Users | None = None,
    send: Send | None = None,
    host: str = LOCALHOST_WEB,
) -> Callable[[faust.App], None]:
    """The dashboard, API and /metrics on host:port; a worker without a store serves /metrics
    alone, so Prometheus can still scrape it."""

    def attach(app: faust.App) -> None:
        store = Store(db) if db else None

        @app.task
        async def web() -> None:
            web_app = _web_app(store, registry, users, send)
            # no lifespan: the page needs no start-up hooks, and Faust cancels this task on
            # shutdown, which a lifespan handler would report as an error
            config = uvicorn.Config(
                web_app, host=host, port=port, log_level="warning", lifespan="off"
            )
            await _EmbeddedServer(config).serve()

    return attach


def _web_app(
    store: Store | None, registry: CollectorRegistry, users: Users | None, send: Send | None
) -> ASGIApp:
    if store is not None:
        from monitor.web.status import create_app

        return create_app(store, registry, users=users, send=send)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics)])
