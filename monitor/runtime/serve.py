"""Run the status page inside the worker's event loop, as a Faust task."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import faust
import uvicorn
from prometheus_client import CollectorRegistry

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
    port: int, db: str | None, registry: CollectorRegistry, *,
    users: Users | None = None, send: Send | None = None,
) -> Callable[[faust.App], None]:
    def attach(app: faust.App) -> None:
        from monitor.web.status import create_app

        store = Store(db) if db else None

        @app.task
        async def web() -> None:
            if store is None:
                return
            web_app = create_app(store, registry, users=users, send=send)
            # no lifespan: the page needs no start-up hooks, and Faust cancels this task on
            # shutdown, which a lifespan handler would report as an error
            config = uvicorn.Config(
                web_app, host=LOCALHOST_WEB, port=port, log_level="warning", lifespan="off"
            )
            await _EmbeddedServer(config).serve()

    return attach
