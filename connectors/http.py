"""HTTP for polled sources: size limits while streaming, timeouts, and refusals named.

Every failure becomes a `SourceError` whose message says what the server did, so a source's
health line reads like a diagnosis ("HTTP 429 from …, retry after 60 s") rather than a trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from connectors.errors import SourceError

DEFAULT_MAX_BYTES = 5_000_000
REFUSAL_STATUSES = {403, 418, 429}
LOGIN_MARKERS = ("passport.", "/passport", "login.sina", "/login", "/signin")


@dataclass(frozen=True)
class Fetched:
    status: int
    url: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").lower()


def _retry_after(value: str | None, server_date: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        until = parsedate_to_datetime(value)
        # Relative to the server's own Date header, so our clock is never consulted.
        sent = parsedate_to_datetime(server_date) if server_date else None
    except (TypeError, ValueError):
        return None
    return max(0.0, (until - sent).total_seconds()) if sent else None


# Query parameters that carry credentials (WeChat's token, signed URLs): never shown in a
# health line, a log or a dead letter.
SECRET_PARAMS = frozenset({
    "token", "access_token", "appmsg_token", "pass_ticket", "key", "secret", "sign",
    "signature", "sig", "uin", "cookie", "password", "sessionid", "ticket",
})  # fmt: skip

# httpx logs every request URL at INFO; those URLs can carry a token.
logging.getLogger("httpx").setLevel(logging.WARNING)


def redact(url: str | httpx.URL) -> str:
    """The URL with the values of credential parameters replaced by REDACTED."""
    parsed = httpx.URL(str(url))
    if not parsed.query:
        return str(parsed)
    pairs = [
        (k, "REDACTED" if k.lower() in SECRET_PARAMS else v) for k, v in parsed.params.multi_items()
    ]
    return str(parsed.copy_with(params=pairs))


def looks_like_login(url: str) -> bool:
    low = url.lower()
    return any(marker in low for marker in LOGIN_MARKERS)


class HttpFetcher:
    """One httpx client shared by a source; `get` returns the whole body or raises."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline: float = 60.0,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        # httpx's timeout is per read; a server dripping one byte a second would never trip
        # it, so the whole request also has a deadline.
        self.deadline = deadline

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        try:
            async with (
                asyncio.timeout(self.deadline),
                self.client.stream("GET", url, params=params, headers=headers) as resp,
            ):
                self._check_status(resp)
                body = await self._read_limited(resp)
                return Fetched(resp.status_code, redact(resp.url), dict(resp.headers), body)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise SourceError(
                "timeout", f"no complete answer from {redact(url)} in time ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise SourceError(
                "connect", f"cannot reach {redact(url)}: {type(exc).__name__} {exc}".rstrip()
            ) from None

    def _check_status(self, resp: httpx.Response) -> None:
        url = redact(resp.request.url)
        if looks_like_login(str(resp.url)) or any(
            looks_like_login(r.headers.get("location", "")) for r in resp.history
        ):
            raise SourceError(
                "login_wall", f"{url} redirected to a login page ({redact(resp.url)})"
            )
        status = resp.status_code
        if status in (200, 304):
            return
        if 300 <= status < 400 and looks_like_login(resp.headers.get("location", "")):
            raise SourceError("login_wall", f"{url} redirected to a login page")
        wait = _retry_after(resp.headers.get("retry-after"), resp.headers.get("date"))
        hint = f", retry after {wait:g} s" if wait is not None else ""
        if status in REFUSAL_STATUSES:
            raise SourceError("refused", f"HTTP {status} from {url}{hint}", retry_after=wait)
        raise SourceError("http_status", f"HTTP {status} from {url}{hint}", retry_after=wait)

    async def _read_limited(self, resp: httpx.Response) -> bytes:
        where = redact(resp.url)
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(
                "too_large",
                f"{where} announced {int(declared):,} bytes, over the {self.max_bytes:,} limit",
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                # Stop reading: the rest of a runaway body never reaches memory.
                raise SourceError(
                    "too_large",
                    f"{where} sent more than the {self.max_bytes:,} byte limit; stopped reading",
                )
            chunks.append(chunk)
        return b"".join(chunks)


def make_client(
    *,
    timeout: float = 15.0,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    base = {"user-agent": "yuqing-monitor/0.1 (+public-opinion response monitor)"}
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        headers={**base, **(headers or {})},
        follow_redirects=True,
        max_redirects=5,
        transport=transport,
    )
