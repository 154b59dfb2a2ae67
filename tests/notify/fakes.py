"""Local stand-ins for WeCom, DingTalk, Feishu, a signed webhook and an SMTP server.

Each is a real HTTP server on 127.0.0.1 that checks the request the way the service does
(format, signature, timestamp window, per-minute limit) and answers with the service's own
bodies, error codes included. The services' clocks are injectable so a test can run the
rate-limit window and the signature window on simulated time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

Answer = tuple[int, dict[str, Any]]


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeService:
    """Base: records requests, can be down, slow, or rate limited on an injected clock."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    limit_per_minute: int = 20
    received: list[Received] = field(default_factory=list)
    accepted: list[Received] = field(default_factory=list)
    down: bool = False
    hold: threading.Event | None = None  # when set: wait for it before answering
    arrived: threading.Event = field(default_factory=threading.Event)
    _window: deque[datetime] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def over_limit(self) -> bool:
        now = self.clock()
        while self._window and self._window[0] <= now - timedelta(minutes=1):
            self._window.popleft()
        if len(self._window) >= self.limit_per_minute:
            return True
        self._window.append(now)
        return False

    def handle(self, req: Received) -> Answer:
        raise NotImplementedError

    def success(self, status: int, answer: dict[str, Any]) -> bool:
        return status == 200 and answer.get("errcode", answer.get("code")) == 0

    def max_per_minute(self) -> int:
        """The most requests accepted within any 60 s of the service's clock."""
        return max((len(w) for w in self._accepted_windows()), default=0)

    def _accepted_windows(self) -> list[list[datetime]]:
        times = sorted(self.accepted_at)
        return [[t for t in times if s <= t < s + timedelta(minutes=1)] for s in times]

    @property
    def accepted_at(self) -> list[datetime]:
        return [datetime.fromisoformat(r.headers["x-fake-accepted-at"]) for r in self.accepted]


@dataclass
class WeCom(FakeService):
    key: str = "wecom-key"

    def handle(self, req: Received) -> Answer:
        if req.path != "/cgi-bin/webhook/send" or req.query.get("key") != self.key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1]"}
        body = req.json
        kind = body.get("msgtype")
        if kind not in ("text", "markdown"):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        content = body.get(kind, {}).get("content")
        if not isinstance(content, str) or not content:
            return 200, {"errcode": 44004, "errmsg": "empty content"}
        limit = 4096 if kind == "markdown" else 2048
        if len(content.encode()) > limit:
            return 200, {"errcode": 40058, "errmsg": f"{kind}.content exceed max length {limit}"}
        mobiles = body.get(kind, {}).get("mentioned_mobile_list", [])
        if kind == "markdown" and mobiles:
            return 200, {"errcode": 40058, "errmsg": "markdown cannot mention mobiles"}
        if self.over_limit():
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        return 200, {"errcode": 0, "errmsg": "ok"}


def ding_sign(secret: str, ts: str) -> str:
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


@dataclass
class DingTalk(FakeService):
    token: str = "ding-token"
    secret: str = "SECding"

    def handle(self, req: Received) -> Answer:
        if req.path != "/robot/send" or req.query.get("access_token") != self.token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        ts, sign = req.query.get("timestamp", ""), req.query.get("sign", "")
        if not ts.isdigit() or abs(int(ts) / 1000 - self.clock().timestamp()) > 3600:
            return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
        if not hmac.compare_digest(sign, ding_sign(self.secret, ts)):
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        body = req.json
        md = body.get("markdown", {}) if body.get("msgtype") == "markdown" else None
        if md is None or not md.get("title") or not md.get("text"):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 markdown"}
        if self.over_limit():
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        return 200, {"errcode": 0, "errmsg": "ok"}


def feishu_sign(secret: str, ts: str) -> str:
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


@dataclass
class Feishu(FakeService):
    hook: str = "feishu-hook"
    secret: str = "feishu-secret"
    limit_per_minute: int = 100

    def handle(self, req: Received) -> Answer:
        if req.path != f"/open-apis/bot/v2/hook/{self.hook}":
            return 404, {
                "code": 19001,
                "msg": "param invalid: incoming webhook access token invalid",
            }
        body = req.json
        ts, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
        fresh = ts.isdigit() and abs(int(ts) - self.clock().timestamp()) <= 3600
        if not fresh or not hmac.compare_digest(sign, feishu_sign(self.secret, ts)):
            msg = "sign match fail or timestamp is not within one hour from current time"
            return 200, {"code": 19021, "data": {}, "msg": msg}
        card = body.get("card") if body.get("msg_type") == "interactive" else None
        title = (card or {}).get("header", {}).get("title", {}).get("content")
        if not card or not title or not isinstance(card.get("elements"), list):
            return 400, {"code": 9499, "data": {}, "msg": "Bad Request"}
        if self.over_limit():
            return 200, {"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi]"}
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {},
                     "msg": "success"}  # fmt: skip


def hook_signature(secret: str, ts: str, body: bytes) -> str:
    return (
        "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


@dataclass
class Webhook(FakeService):
    """An SMS gateway: HMAC over timestamp.body; repeats of an Idempotency-Key answer 409."""

    secret: str = "hook-secret"
    limit_per_minute: int = 10_000
    keys: set[str] = field(default_factory=set)

    def handle(self, req: Received) -> Answer:
        ts = req.headers.get("x-yuqing-timestamp", "")
        sig = req.headers.get("x-yuqing-signature", "")
        if not hmac.compare_digest(sig, hook_signature(self.secret, ts, req.body)):
            return 401, {"error": "bad signature"}
        key = req.headers.get("idempotency-key")
        if not key:
            return 400, {"error": "Idempotency-Key header required"}
        with self._lock:
            if key in self.keys:
                return 409, {"status": "duplicate", "id": key}
            self.keys.add(key)
        return 200, {"status": "accepted", "id": key}

    def success(self, status: int, answer: dict[str, Any]) -> bool:
        return status == 200


def _handler(service: FakeService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = Received(parts.path, query, headers, body)
            service.received.append(req)
            service.arrived.set()
            if service.hold is not None:
                service.hold.wait(30)
            if service.down:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, answer = service.handle(req)
            if service.success(status, answer):
                req.headers["x-fake-accepted-at"] = service.clock().isoformat()
                service.accepted.append(req)
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client went away (a test killed it)
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Running:
    def __init__(self, service: FakeService) -> None:
        self.service = service
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        if self.service.hold is not None:
            self.service.hold.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    rcpt_tos: list[str]
    mail_from: str
    message: EmailMessage
    raw: bytes


class MailSink:
    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        raw = envelope.original_content
        self.mails.append(Mail(list(envelope.rcpt_tos), envelope.mail_from, msg, raw))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smtp() -> tuple[Controller, MailSink]:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, sink
