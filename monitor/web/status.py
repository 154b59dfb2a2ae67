"""A small Starlette app: `/` lists incidents with their clocks, `/metrics` for Prometheus,
`/api/incidents` as JSON. Reads the store; the duty dashboard proper is another issue."""

from __future__ import annotations

import html

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from monitor.runtime.views import incident_summary
from monitor.store import Store


def create_app(store: Store, registry: CollectorRegistry) -> Starlette:
    async def summaries() -> list[dict[str, object]]:
        rows = await run_in_threadpool(store.incidents)
        return [incident_summary(r.state) for r in rows]

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(_page(await summaries()))

    async def api(_: Request) -> JSONResponse:
        return JSONResponse(await summaries())

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/incidents", api),
            Route("/metrics", metrics),
        ]
    )


def _page(rows: list[dict[str, object]]) -> str:
    body = "".join(_row(r) for r in rows) or "<tr><td colspan=6>暂无事件</td></tr>"
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='5'><title>舆情回应监测 · 运行状态</title></head>"
        "<body><h1>舆情回应监测</h1><p>每5秒自动刷新。时间为UTC。</p>"
        "<table border=1 cellpadding=4><tr><th>事件</th><th>级别</th><th>状态</th>"
        "<th>责任单位</th><th>回应时限</th><th>帖子数</th></tr>"
        f"{body}</table></body></html>"
    )


def _row(r: dict[str, object]) -> str:
    e = html.escape
    clocks = r.get("clocks") or []
    assert isinstance(clocks, list)
    clock_text = "<br>".join(
        e(f"{c['label']}：{str(c['deadline'])[:16]}（{c['status_label']}）") for c in clocks
    )
    bodies = r.get("bodies") or []
    assert isinstance(bodies, list)
    return (
        f"<tr><td>{e(str(r['title']))}<br><small>{e(str(r['id']))}</small></td>"
        f"<td>{e(str(r['grade']))}级 {e(str(r['grade_label']))}</td>"
        f"<td>{e(str(r['state_label']))}</td><td>{e('、'.join(map(str, bodies)) or '—')}</td>"
        f"<td>{clock_text or '—'}</td><td>{e(str(r['posts']))}</td></tr>"
    )
