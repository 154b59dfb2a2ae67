"""Real HTTP servers on 127.0.0.1 for the connector tests, plus store/sink/metrics fixtures.

`http_server` is a threaded stdlib HTTP server whose routes each test sets: a route returns a
`Reply` (status, headers, body, optional delay or endless stream), and every request is logged
so tests can check the headers a connector sent (conditional GET, cookies).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from prometheus_client import CollectorRegistry
from tenacity import RetryCallState

from connectors.base import Schedule, Source, SourceRunner
from connectors.checkpoint import CheckpointStore
from connectors.http import HttpFetcher, make_client
from connectors.metrics import ConnectorMetrics
from connectors.sink import MemorySink
from monitor.config import load_config
from monitor.config.sections import OfficialAccount
from monitor.testing import FakeClock, city_config_text, metric

__all__ = ["FakeClock", "metric"]

FIXTURES = Path(__file__).with_name("fixtures")
NOW = datetime(2026, 4, 19, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream_bytes: int = 0  # >0: send this many bytes in chunks, with no Content-Length


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Handler = Callable[[Seen], Reply]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose in these tests (size limits, timeouts)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Seen] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    {k.lower(): v for k, v in self.headers.items()},
                )
                outer.requests.append(seen)
                handler = outer.routes.get(parts.path)
                reply = handler(seen) if handler else Reply(404, b"no such route")
                # The client may stop reading on purpose (size limit, timeout).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.stream_bytes:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"x" * 65536
                    for _ in range(reply.stream_bytes // len(chunk)):
                        self.wfile.write(chunk)
                    return
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Handler | Reply) -> str:
        self.routes[path] = handler if callable(handler) else (lambda _s, r=handler: r)
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture(scope="session")
def _server() -> Iterator[LocalServer]:
    server = LocalServer()
    server.thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture
def http_server(_server: LocalServer) -> LocalServer:
    _server.routes.clear()
    _server.requests.clear()
    return _server


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ConnectorMetrics:
    return ConnectorMetrics.create(registry)


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    return CheckpointStore.from_url(f"sqlite:///{tmp_path / 'checkpoints.db'}")


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def make_runner(
    store: CheckpointStore, sink: MemorySink, metrics: ConnectorMetrics, clock: FakeClock
) -> Callable[..., SourceRunner]:
    clients = []

    def build(
        source: Source,
        *,
        max_bytes: int = 5_000_000,
        timeout: float = 5.0,
        schedule: Schedule | None = None,
        **kw: object,
    ) -> SourceRunner:
        client = make_client(timeout=timeout)
        clients.append(client)
        http = HttpFetcher(client, max_bytes=max_bytes, deadline=timeout * 2)
        sched = schedule or Schedule(interval=60, page_pause=0, max_pages=5)
        opts = {
            "store": store,
            "sink": sink,
            "metrics": metrics,
            "clock": clock,
            "sleep": clock.sleep,
            **kw,
        }
        return SourceRunner(source, http=http, schedule=sched, **opts)  # type: ignore[arg-type]

    yield build  # type: ignore[misc]
    for c in clients:
        await c.aclose()


async def fail_then_stop(runner: SourceRunner, failures: int = 1) -> None:
    """`poll_with_retry` until `failures` consecutive failures are recorded, then stop the
    runner (on its own it retries for ever)."""
    original = runner._record_failure

    async def record_then_stop(state: RetryCallState) -> None:
        await original(state)
        if runner.health.consecutive_failures >= failures:
            runner.stop()

    runner._record_failure = record_then_stop  # type: ignore[method-assign,assignment]
    await runner.poll_with_retry()


def city_config(directory: Path, accounts: str) -> Path:
    """The packaged city config with these `official_accounts` (a YAML flow list), written to
    `directory`: the one place that says which accounts are a department's own."""
    text = city_config_text()
    empty = "\nofficial_accounts: []\n"
    assert empty in text, "the packaged city config no longer has an empty official_accounts"
    path = directory / "city.yaml"
    path.write_text(text.replace(empty, f"\nofficial_accounts: {accounts}\n"), encoding="utf-8")
    return path


def city_accounts(directory: Path, accounts: str) -> tuple[OfficialAccount, ...]:
    """`official_accounts` as `monitor sources run --config` reads them (validated: every
    department a body of the city)."""
    return load_config(city_config(directory, accounts)).official_accounts
