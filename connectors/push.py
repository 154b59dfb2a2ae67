"""Pushed reports: other systems (12345 hotline, grid platforms, a reporter's app) POST posts.

    POST /push/{source}        body: one post object, or a JSON list of them
    X-Yuqing-Timestamp: <unix seconds>
    X-Yuqing-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

Answers, each with `{"error": code, "message": …}` when refused:
    202 accepted (also for a post already received: idempotent by id)
    401 missing_signature | bad_signature | stale_timestamp (older/newer than 5 min: a replay)
    404 unknown_source, 413 body_too_large, 400 malformed_body (not JSON), 422 invalid_post,
    503 unavailable (the broker or store failed: nothing was kept, send again).

A 202 is sent only after the sink acknowledged and the id was recorded, so an accepted post is
never lost. Ids become f"push:{source}:{id}", unique across pushing systems. The app is a
FastAPI router (`push_router`) that the main web app can mount.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.base import dead_letter, utc_now
from connectors.checkpoint import CheckpointStore
from connectors.metrics import ConnectorMetrics
from connectors.official import OfficialAccounts
from connectors.sink import Sink
from monitor.domain.model import MAX_TEXT_BYTES, Post

TIMESTAMP_HEADER = "X-Yuqing-Timestamp"
SIGNATURE_HEADER = "X-Yuqing-Signature"
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 2_000_000
_DECODER = msgspec.json.Decoder(Post | list[Post])


def sign(secret: str | bytes, timestamp: str | int, body: bytes) -> str:
    """The signature header value a sender computes."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message}, self.status)


@dataclass
class PushEndpoint:
    """One pushing system: its name (the path segment) and shared secret."""

    name: str
    secret: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def store_key(self) -> str:
        return f"push:{self.name}"


def verify(endpoint: PushEndpoint, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    stamp = headers.get(TIMESTAMP_HEADER.lower())
    given = headers.get(SIGNATURE_HEADER.lower())
    if not stamp or not given:
        raise Refusal(
            401,
            "missing_signature",
            f"both {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers are required",
        )
    if not stamp.strip().lstrip("-").isdigit():
        raise Refusal(
            401, "stale_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds, got {stamp!r}"
        )
    if not hmac.compare_digest(sign(endpoint.secret, stamp.strip(), body), given.strip()):
        raise Refusal(
            401,
            "bad_signature",
            f"{SIGNATURE_HEADER} does not match HMAC-SHA256 of timestamp.body "
            "with this source's secret",
        )
    age = now.timestamp() - int(stamp)
    if abs(age) > MAX_SKEW_SECONDS:
        raise Refusal(
            401,
            "stale_timestamp",
            f"timestamp is {age:+.0f} s from the server's time; more than "
            f"{MAX_SKEW_SECONDS} s is refused as a possible replay",
        )


def decode_posts(body: bytes, endpoint: PushEndpoint, now: datetime) -> list[Post]:
    try:
        decoded = _DECODER.decode(body)
    except msgspec.ValidationError as exc:
        raise Refusal(422, "invalid_post", f"post does not match the schema: {exc}") from None
    except msgspec.DecodeError as exc:
        raise Refusal(400, "malformed_body", f"body is not valid JSON: {exc}") from None
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items:
        raise Refusal(422, "invalid_post", "the list of posts is empty")
    return [_normalise(p, i, endpoint, now) for i, p in enumerate(items)]


def _normalise(post: Post, index: int, endpoint: PushEndpoint, now: datetime) -> Post:
    where = f"$[{index}]" if index else "$"
    if not post.id.strip():
        raise Refusal(422, "invalid_post", f"id is empty - at `{where}.id`")
    if not post.text.strip():
        raise Refusal(422, "invalid_post", f"text is empty - at `{where}.text`")
    if post.published_at is None or post.published_at.tzinfo is None:
        raise Refusal(
            422,
            "invalid_post",
            f"published_at must be an ISO time with a UTC offset - at `{where}.published_at`",
        )
    if len(post.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise Refusal(
            422, "invalid_post", f"text over {MAX_TEXT_BYTES:,} bytes - at `{where}.text`"
        )
    return msgspec.structs.replace(
        post, id=f"push:{endpoint.name}:{post.id}", source=endpoint.name, observed_at=now
    )


class PushService:
    """The work behind the route: verify, decode, dedup, send, record."""

    def __init__(
        self,
        endpoints: Sequence[PushEndpoint],
        *,
        sink: Sink,
        store: CheckpointStore,
        metrics: ConnectorMetrics,
        official: OfficialAccounts | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.endpoints = {e.name: e for e in endpoints}
        self.sink, self.store, self.metrics, self.clock = sink, store, metrics, clock
        self.official = official or OfficialAccounts()

    async def handle(self, name: str, headers: Mapping[str, str], body: bytes) -> JSONResponse:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return Refusal(404, "unknown_source", f"no push source named {name!r}").response()
        now = self.clock()
        try:
            if len(body) > MAX_BODY_BYTES:
                raise Refusal(413, "body_too_large", f"body over {MAX_BODY_BYTES:,} bytes")
            verify(endpoint, headers, body, now)
            posts = decode_posts(body, endpoint, now)
        except Refusal as refusal:
            await self._refused(endpoint, refusal, body, now)
            return refusal.response()
        try:
            accepted, duplicates = await self._accept(endpoint, posts, now)
        except Exception as exc:  # the broker or store is down: the sender must retry
            self.metrics.errors.labels(endpoint.store_key, "unavailable").inc()
            message = f"posts not stored, retry later ({type(exc).__name__})"
            return Refusal(503, "unavailable", message).response()
        return JSONResponse({"accepted": accepted, "duplicates": duplicates}, 202)

    async def _accept(
        self, endpoint: PushEndpoint, posts: list[Post], now: datetime
    ) -> tuple[list[str], list[str]]:
        key = endpoint.store_key
        async with endpoint.lock:  # two identical pushes at once must not both pass the check
            unique = list({p.id: p for p in posts}.values())
            seen = await asyncio.to_thread(self.store.seen, key, [p.id for p in unique])
            # Official only by configuration: the push source named in the city's
            # official_accounts; never the payload's `official`/`department`.
            fresh = [self.official.mark(p) for p in unique if p.id not in seen]
            if fresh:
                await self.sink.send(fresh)
                await asyncio.to_thread(self.store.commit, key, {}, [p.id for p in fresh], now)
        self.metrics.posts.labels(key).inc(len(fresh))
        self.metrics.duplicates.labels(key).inc(len(posts) - len(fresh))
        return [p.id for p in fresh], [p.id for p in posts if p.id in seen]

    async def _refused(
        self, endpoint: PushEndpoint, refusal: Refusal, body: bytes, now: datetime
    ) -> None:
        key = endpoint.store_key
        self.metrics.errors.labels(key, refusal.code).inc()
        if refusal.status == 401:
            return  # unauthenticated bodies are not kept: anyone could fill the log
        text = body[:20_000].decode("utf-8", "replace")
        await self.sink.dead_letter(
            [
                dead_letter(
                    key,
                    f"{refusal.code}: {refusal.message}",
                    text,
                    now,
                    f"POST /push/{endpoint.name}",
                )
            ]
        )
        self.metrics.dead_letters.labels(key, refusal.code).inc()


def push_router(service: PushService) -> APIRouter:
    router = APIRouter()

    @router.post("/push/{source}", status_code=202, summary="Receive pushed posts")
    async def receive(source: str, request: Request) -> JSONResponse:
        body = await request.body()
        return await service.handle(source, request.headers, body)

    return router


def create_push_app(service: PushService) -> FastAPI:
    app = FastAPI(title="舆情回应监测 push endpoint")
    app.include_router(push_router(service))
    return app
