"""The web app: the duty dashboard at `/`, the API under `/api` (OpenAPI at /docs and
/openapi.json, with Swagger UI's files served from here) and `/metrics` for Prometheus. Reads the
store; answers go to the actions topic through `send` (without it the API reads only).

It runs in its own process (`monitor web`, monitor/web/server.py), never in the pipeline
worker's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest

from monitor.domain.evidence import EvidencePolicy
from monitor.domain.policy import FUTURE_SKEW_S
from monitor.notify.outbox import Outbox
from monitor.reports import load
from monitor.reports.metrics import ComplianceMetrics
from monitor.runtime.actions import Send
from monitor.store import Store
from monitor.web.api import Clock, Deps, install_error_handlers, router
from monitor.web.auth import Users
from monitor.web.cache import ReadModel
from monitor.web.guard import (
    LATENCY_BUCKETS,
    MAX_BODY_BYTES,
    BodyGuard,
    SecurityHeaders,
    Timing,
)
from monitor.web.live import Feed
from monitor.web.meta import Meta


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _static(name: str) -> str:
    return resources.files("monitor.web").joinpath(f"static/{name}").read_text("utf-8")


def swagger_assets() -> Path:
    """Swagger UI's bundle and stylesheet, from the fastapi-offline package (a registry
    package, so /docs works on a network without the internet)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def create_app(
    store: Store,
    registry: CollectorRegistry,
    *,
    users: Users | None = None,
    send: Send | None = None,
    clock: Clock = wall_clock,
    evidence: EvidencePolicy | None = None,
    max_body: int = MAX_BODY_BYTES,
    meta: Meta | None = None,
    skew_s: int = FUTURE_SKEW_S,
    outbox: Outbox | None = None,
) -> FastAPI:
    model = ReadModel(store)
    deps = Deps(
        store=store, users=users if users is not None else Users.of(store),
        send=send, clock=clock, evidence=evidence or EvidencePolicy(),
        meta=meta or Meta.default(), feed=Feed(store, model), model=model, skew_s=skew_s,
        outbox=outbox,
    )  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await deps.feed.close()
        close = getattr(send, "close", None)
        if close is not None:
            await close()

    app = FastAPI(
        title="舆情回应监测 API", version="1", docs_url=None, redoc_url=None, lifespan=lifespan
    )
    refused = install_error_handlers(app, registry)
    registry.register(ComplianceMetrics(
        lambda: (model.states(), load.breach_events(store)), clock, deps.meta.bodies
    ))  # fmt: skip
    app.include_router(router(deps))
    app.mount("/static/swagger", StaticFiles(directory=swagger_assets()), name="swagger")
    app.mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(_static("dashboard.html"))

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_static("docs.html"))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        # off the event loop: the compliance families read the store (monitor/reports/metrics.py)
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # the last added is the outermost: refusals by the guard get the security headers too
    app.add_middleware(BodyGuard, max_bytes=max_body, refused=refused)
    seconds = Histogram("monitor_web_request_seconds", "Time to answer an API or page request",
                        ["route"], buckets=LATENCY_BUCKETS, registry=registry)  # fmt: skip
    app.add_middleware(Timing, histogram=seconds)
    app.add_middleware(SecurityHeaders)
    return app
