"""Channels: each speaks its service's own request format, signature and answer codes.

A channel never retries by itself; it reports what happened (`SendResult`) and the
dispatcher decides, so retry policy, rate limits and the outbox stay in one place.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import smtplib
from abc import ABC, abstractmethod
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from monitor.domain.escalation import Recipient
from monitor.notify.config import ChannelSpec
from monitor.notify.message import Rendered


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    """`answer` is the service's own reply, kept for the operator and the outbox row."""

    ok: bool
    answer: str
    retryable: bool = False
    rate_limited: bool = False


class Channel(ABC):
    # True when the service itself drops a repeat of the same idempotency key, so a send that
    # may or may not have happened before a crash can safely be made again.
    idempotent = False

    def __init__(self, spec: ChannelSpec, client: httpx.AsyncClient | None = None) -> None:
        self.spec = spec
        self._client = client

    @property
    def name(self) -> str:
        return self.spec.name

    def fits(self, note: Rendered, to: tuple[Recipient, ...]) -> bool:
        """Whether the service would take `note` whole; decides how many notices a digest holds."""
        return len(note.text.encode()) <= self.max_bytes

    max_bytes = 1_000_000

    @abstractmethod
    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult: ...


class HttpChannel(Channel):
    async def _post(
        self,
        payload: bytes,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | SendResult:
        hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        # Merge, not replace: robot URLs carry their token in the query already.
        url = httpx.URL(self.spec.url).copy_merge_params(params or {})
        try:
            if self._client is not None:
                return await self._request(self._client, url, payload, hdrs)
            async with httpx.AsyncClient() as client:
                return await self._request(client, url, payload, hdrs)
        except httpx.TransportError as exc:
            return SendResult(ok=False, answer=f"{type(exc).__name__}: {exc}", retryable=True)

    async def _request(
        self, client: httpx.AsyncClient, url: httpx.URL, payload: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        return await client.post(url, content=payload, headers=headers, timeout=self.spec.timeout_s)

    async def _post_json(
        self, body: dict[str, Any], params: dict[str, str] | None = None
    ) -> SendResult:
        got = await self._post(json.dumps(body, ensure_ascii=False).encode(), params)
        if isinstance(got, SendResult):
            return got
        return self._judge(got)

    def _judge(self, resp: httpx.Response) -> SendResult:
        answer = resp.text.strip()[:500]
        if resp.status_code == 429:
            return SendResult(ok=False, answer=answer, rate_limited=True)
        if resp.status_code >= 500:
            return SendResult(ok=False, answer=f"HTTP {resp.status_code}: {answer}", retryable=True)
        try:
            data = resp.json()
        except ValueError:
            return SendResult(ok=False, answer=f"HTTP {resp.status_code}, not JSON: {answer}")
        if not isinstance(data, dict):
            return SendResult(
                ok=False, answer=f"HTTP {resp.status_code}: unexpected answer {answer}"
            )
        return self._answer(data, answer)

    @abstractmethod
    def _answer(self, data: dict[str, Any], raw: str) -> SendResult: ...


def _codes(code: object, raw: str, limited: set[int], transient: set[int]) -> SendResult:
    if code == 0:
        return SendResult(ok=True, answer=raw)
    return SendResult(
        ok=False, answer=raw, rate_limited=code in limited, retryable=code in transient
    )


def _mobiles(to: tuple[Recipient, ...]) -> list[str]:
    return [r.address for r in to if r.address and r.address.isdigit()]


def _user_ids(to: tuple[Recipient, ...]) -> list[str]:
    return [r.address for r in to if r.address and not r.address.isdigit() and "@" not in r.address]


# WeCom robot content limits in UTF-8 bytes, from its documentation.
WECOM_LIMITS = {"text": 2048, "markdown": 4096}


class WeComChannel(HttpChannel):
    """企业微信群机器人. Markdown cannot @ by mobile, so mobiles switch the message to text."""

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        return await self._post_json(self._body(note, to))

    def fits(self, note: Rendered, to: tuple[Recipient, ...]) -> bool:
        body = self._body(note, to)
        kind = body["msgtype"]
        return len(body[kind]["content"].encode()) <= WECOM_LIMITS[kind]

    def _body(self, note: Rendered, to: tuple[Recipient, ...]) -> dict[str, Any]:
        mobiles, ids = _mobiles(to), _user_ids(to)
        if mobiles:
            text: dict[str, Any] = {"content": note.text, "mentioned_mobile_list": mobiles}
            if ids:
                text["mentioned_list"] = ids
            return {"msgtype": "text", "text": text}
        mention = "".join(f"<@{i}>" for i in ids)
        content = note.markdown + (f"\n{mention}" if mention else "")
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def _answer(self, data: dict[str, Any], raw: str) -> SendResult:
        # 45009: api freq out of limit; -1: system busy.
        return _codes(data.get("errcode"), raw, limited={45009}, transient={-1})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class DingTalkChannel(HttpChannel):
    """钉钉自定义机器人: markdown with @mobiles; `timestamp` + `sign` as query parameters."""

    max_bytes = 18_000  # the robot takes a 20 KB message

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        mobiles, ids = _mobiles(to), _user_ids(to)
        mention = " ".join(f"@{m}" for m in [*mobiles, *ids])
        text = note.markdown + (f"\n\n{mention}" if mention else "")
        body = {
            "msgtype": "markdown",
            "markdown": {"title": note.title, "text": text},
            "at": {"atMobiles": mobiles, "atUserIds": ids, "isAtAll": False},
        }
        ts = int(now.timestamp() * 1000)
        # httpx url-encodes the query value, which is the urlEncode step of DingTalk's recipe.
        params = {"timestamp": str(ts), "sign": dingtalk_sign(self.spec.secret or "", ts)}
        return await self._post_json(body, params)

    def _answer(self, data: dict[str, Any], raw: str) -> SendResult:
        # 130101: send too fast; 130102: too many messages; -1: system busy.
        return _codes(data.get("errcode"), raw, limited={130101, 130102}, transient={-1})


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuChannel(HttpChannel):
    """飞书自定义机器人: an interactive card; `timestamp` + `sign` in the body."""

    max_bytes = 18_000  # the request body may be 20 KB

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        ts = int(now.timestamp())
        mention = "".join(f"<at id={i}></at>" for i in _user_ids(to))
        body_md = (
            "\n".join(note.lines)
            + f"\n**现在需要：{note.expected}**"
            + (f"\n{mention}" if mention else "")
        )
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": body_md}}
        ]
        if note.link:
            button = {"tag": "button", "type": "primary", "url": note.link,
                      "text": {"tag": "plain_text", "content": "查看事件详情"}}  # fmt: skip
            elements.append({"tag": "action", "actions": [button]})
        card = {
            "config": {"wide_screen_mode": True},
            "header": {"template": "red" if note.urgent else "orange",
                       "title": {"tag": "plain_text", "content": note.title}},
            "elements": elements,
        }  # fmt: skip
        body = {"timestamp": str(ts), "sign": feishu_sign(self.spec.secret or "", ts),
                "msg_type": "interactive", "card": card}  # fmt: skip
        return await self._post_json(body)

    def _answer(self, data: dict[str, Any], raw: str) -> SendResult:
        code = data.get("code", data.get("StatusCode"))
        # 11232: frequency limited; 19021: sign match fail; 9499: bad request.
        return _codes(code, raw, limited={11232}, transient=set())


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel(HttpChannel):
    """Generic JSON webhook (SMS gateways, other systems), HMAC-SHA256 over timestamp + body.

    The receiver is expected to drop a repeated `Idempotency-Key` (answering 2xx or 409), which
    is what lets the dispatcher resend a send that was cut off by a crash.
    """

    idempotent = True

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        body = json.dumps({
            "id": key,
            "title": note.title,
            "text": note.text,
            "markdown": note.markdown,
            "link": note.link,
            "urgent": note.urgent,
            "recipients": [
                {"name": r.name, "role": r.role.value, "address": r.address} for r in to
            ],
        }, ensure_ascii=False).encode()  # fmt: skip
        ts = str(int(now.timestamp()))
        headers = {
            "X-Yuqing-Timestamp": ts,
            "X-Yuqing-Signature": webhook_signature(self.spec.secret or "", ts, body),
            "Idempotency-Key": key,
        }
        got = await self._post(body, headers=headers)
        if isinstance(got, SendResult):
            return got
        if got.status_code in (200, 201, 202, 204, 409):
            return SendResult(ok=True, answer=f"HTTP {got.status_code} {got.text.strip()[:300]}")
        return self._judge(got)

    def _answer(self, data: dict[str, Any], raw: str) -> SendResult:
        return SendResult(ok=False, answer=raw)


def mail_message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@yuqing-monitor>"


class EmailChannel(Channel):
    """SMTP: multipart/alternative, plain text and HTML, subject RFC 2047 encoded."""

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        rcpts = list(
            dict.fromkeys(
                [*(r.address for r in to if r.address and "@" in r.address), *self.spec.to]
            )
        )
        if not rcpts:
            return SendResult(ok=False, answer="no email address among the recipients")
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["Subject"] = note.title
        msg["From"] = self.spec.sender or ""
        msg["To"] = ", ".join(rcpts)
        msg["Message-ID"] = mail_message_id(key)
        msg["X-Yuqing-Key"] = key
        msg.set_content(note.text)
        msg.add_alternative(note.html, subtype="html")
        return await asyncio.to_thread(self._deliver, msg, rcpts)

    def _deliver(self, msg: EmailMessage, rcpts: list[str]) -> SendResult:
        parts = urlsplit(self.spec.url)
        host, port = (
            parts.hostname or "127.0.0.1",
            parts.port or (465 if parts.scheme == "smtps" else 25),
        )
        cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        try:
            with cls(host, port, timeout=self.spec.timeout_s) as smtp:
                if self.spec.username:
                    smtp.login(self.spec.username, self.spec.secret or "")
                refused, (code, reply) = _transaction(smtp, self.spec.sender or "", rcpts, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult(ok=False, answer=f"recipients refused: {exc.recipients}")
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            text = error.decode(errors="replace") if isinstance(error, bytes) else error
            answer = f"{exc.smtp_code} {text}"
            return SendResult(ok=False, answer=answer, retryable=400 <= exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(ok=False, answer=f"{type(exc).__name__}: {exc}", retryable=True)
        accepted = len(rcpts) - len(refused)
        reply_text = reply.decode(errors="replace")
        answer = f"{code} {reply_text} (accepted for {accepted} of {len(rcpts)} recipients)"
        return SendResult(ok=True, answer=answer)


def _transaction(
    smtp: smtplib.SMTP, sender: str, rcpts: list[str], msg: EmailMessage
) -> tuple[dict[str, tuple[int, bytes]], tuple[int, bytes]]:
    """sendmail() without hiding the server's answer to DATA, which the operator wants to see."""
    smtp.ehlo_or_helo_if_needed()
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in rcpts:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, reply)
    if len(refused) == len(rcpts):
        smtp.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    return refused, smtp.data(msg.as_bytes())


class DryRunChannel(Channel):
    """Records what would have been sent (replays); `dryrun:/path.jsonl` also appends a file."""

    idempotent = True

    def __init__(self, spec: ChannelSpec, client: httpx.AsyncClient | None = None) -> None:
        super().__init__(spec, client)
        self.sent: list[dict[str, Any]] = []

    async def send(
        self, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        record = {"channel": self.name, "key": key, "at": now.isoformat(), "title": note.title,
                  "text": note.text, "to": [r.name for r in to]}  # fmt: skip
        self.sent.append(record)
        path = self.spec.url.removeprefix("dryrun:")
        if path:
            with Path(path).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return SendResult(ok=True, answer="dry-run: recorded, not sent")


CHANNEL_TYPES: dict[str, type[Channel]] = {
    "wecom": WeComChannel,
    "dingtalk": DingTalkChannel,
    "feishu": FeishuChannel,
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "dryrun": DryRunChannel,
}


def make_channel(spec: ChannelSpec, client: httpx.AsyncClient | None = None) -> Channel:
    return CHANNEL_TYPES[spec.type](spec, client)
