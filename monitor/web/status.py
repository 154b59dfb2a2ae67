"""The web app: the duty dashboard at `/`, the API under `/api` (OpenAPI at /docs and
/openapi.json) and `/metrics` for Prometheus. Reads the store; answers go to the actions topic
through `send` (without it the API reads only)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from monitor.domain.evidence import EvidencePolicy
from monitor.runtime.actions import Send
from monitor.store import Store
from monitor.web.api import Clock, Deps, install_error_handlers, router
from monitor.web.auth import Users


def wall_clock() -> datetime:
    return datetime.now(UTC)


def _static(name: str) -> str:
    return resources.files("monitor.web").joinpath(f"static/{name}").read_text("utf-8")


def create_app(
    store: Store,
    registry: CollectorRegistry,
    *,
    users: Users | None = None,
    send: Send | None = None,
    clock: Clock = wall_clock,
    evidence: EvidencePolicy | None = None,
) -> FastAPI:
    deps = Deps(
        store=store, users=users if users is not None else Users.from_env(),
        send=send, clock=clock, evidence=evidence or EvidencePolicy(),
    )  # fmt: skip
    app = FastAPI(title="舆情回应监测 API", version="1")
    install_error_handlers(app, registry)
    app.include_router(router(deps))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(_static("dashboard.html"))

    @app.get("/static/dashboard.js", include_in_schema=False)
    async def script() -> Response:
        return Response(_static("dashboard.js"), media_type="text/javascript; charset=utf-8")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
