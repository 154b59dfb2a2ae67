"""The web process's edge, as ASGI middleware in front of FastAPI:

- `BodyGuard`: a request body is read only up to a limit (413 beyond it, without reading the
  rest) and must be JSON a careful parser accepts: well-formed UTF-8 without lone surrogates,
  nested no deeper than a limit (400 otherwise). FastAPI's own parser (`json.loads`) raised
  RecursionError on 10,000-deep JSON and let a lone surrogate through to the store, each a 500.
- `Timing`: a histogram of answer times by route, for Prometheus and the benchmarks.
- `SecurityHeaders`: CSP, X-Content-Type-Options, X-Frame-Options, Referrer-Policy on every
  answer, and `Cache-Control: no-store` on the API's (they carry tokens' views of incidents).

Refusals use the API's error shape, `{"error": "…"}`, in Chinese.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import msgspec
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # an action is under 1 KB; the largest legitimate body is a split
MAX_JSON_DEPTH = 16  # the API's bodies nest two levels

Refused = Callable[[Scope, int, str], None]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Swagger UI sets style attributes from its script and shows inline SVG icons
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATHS = ("/docs",)


class BodyRefused(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def json_depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (a scalar is 0); iterative, so any depth."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children)
    return deepest


def check_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse what json.loads would choke on or let through broken. msgspec decodes strictly:
    invalid UTF-8 and `\\ud800`-style lone surrogates are errors, and its own recursion limit
    is an exception, not a crash."""
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise BodyRefused(400, f"请求体 JSON 嵌套过深（上限 {max_depth} 层）") from None
    except (msgspec.DecodeError, UnicodeDecodeError, ValueError) as exc:
        raise BodyRefused(400, f"请求体不是有效的 JSON（UTF-8，不含孤立代理字符）：{exc}") from None
    if json_depth(value) > max_depth:
        raise BodyRefused(400, f"请求体 JSON 嵌套过深（上限 {max_depth} 层）")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise BodyRefused(400, "Content-Length 请求头无效") from None
    return None


class BodyGuard:
    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, refused: Refused | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refused = refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if body:
                check_json(body)
        except BodyRefused as exc:
            if self.refused is not None:
                self.refused(scope, exc.status, str(exc))
            await _answer(send, exc.status, str(exc))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then http.disconnect, as the app expects

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            raise BodyRefused(413, f"请求体过大：{declared} 字节，上限 {self.max_bytes} 字节")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyRefused(413, f"请求体过大：超过上限 {self.max_bytes} 字节")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()), (b"connection", b"close")],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", (DOCS_CSP if path in DOCS_PATHS else CSP).encode()),
        ]
        if path.startswith("/api/") or path == "/openapi.json":
            extra.append((b"cache-control", b"no-store"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {name.lower() for name, _ in message.get("headers", ())}
                headers = list(message.get("headers", ()))
                headers += [(n, v) for n, v in extra if n not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# Seconds to answer a request, server side: the dashboard's goal is p99 ≤ 200 ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)
STREAMS = ("/api/stream",)  # open for as long as a dashboard is: not a request's latency


class Timing:
    """Observes each answer's duration under its route's template (`/api/incidents/{id}`), so
    the figure is bounded by the routes, not by the ids in the URLs."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in STREAMS:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.histogram.labels(route).observe(time.perf_counter() - start)
