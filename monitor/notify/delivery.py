"""The dispatcher: plan → outbox → channels, with backoff, rate limits, coalescing and alerts.

Time comes from an injected `clock`, so a test can keep an endpoint down for ten minutes of
simulated time by advancing the clock between `run_once` calls, without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge
from tenacity import RetryCallState, wait_exponential, wait_random

from monitor.domain.escalation import Plan, Recipient, Role, Step, plan
from monitor.notify.channels import Channel, SendResult
from monitor.notify.config import NotifySettings
from monitor.notify.message import OutboxMessage, Rendered, render, render_digest
from monitor.notify.outbox import NewRow, Outbox, OutboxRow

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
WINDOW = timedelta(minutes=1)
NOTICES_KEPT = 65536  # decoded notices (below) kept; beyond, the oldest go and are decoded again


class _Notice(msgspec.Struct, frozen=True):
    """What the stale-warning check reads of an earlier row's message: decoding only these
    fields of a row's message, once, rather than the whole message at every later warning
    of its incident (a month's replay spent ~10% of its time there)."""

    key: str
    step: Step
    at: datetime
    clock_id: str | None = None


_notice = msgspec.json.Decoder(_Notice)


@dataclass(frozen=True)
class DeliveryPolicy:
    """`alert_after_attempts`: failures before duty staff hear of it (retries go on);
    `give_up_after`: how long a message is retried before it is marked failed."""

    batch: int = 500
    max_per_digest: int = 10
    alert_after_attempts: int = 3
    give_up_after: timedelta = timedelta(hours=2)
    backoff_initial_s: float = 5.0
    backoff_max_s: float = 300.0
    backoff_jitter_s: float = 5.0


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry, prefix: str = "yuqing_notify") -> None:
        def counter(name: str, doc: str, labels: Sequence[str]) -> Counter:
            return Counter(f"{prefix}_{name}", doc, list(labels), registry=registry)

        self.sent = counter("sent", "Notifications delivered (rows)", ["channel"])
        self.requests = counter("requests", "Requests made to a service", ["channel", "outcome"])
        self.retries = counter("retries", "Sends scheduled for another attempt", ["channel"])
        self.failed = counter("failed", "Notifications given up or rejected", ["channel"])
        self.coalesced = counter("coalesced", "Notifications folded into a digest", ["channel"])
        self.rate_limited = counter("rate_limited", "Sends held back by a rate limit", ["channel"])
        self.uncertain = counter("uncertain", "Sends cut off by a crash, not resent", ["channel"])
        self.alerts = counter("alerts", "Alerts raised to duty staff", ["reason"])
        self.undeliverable_alerts = counter(
            "alert_undeliverable", "Alerts with no other channel", ["reason"]
        )
        self.unreachable = counter("unreachable", "Roles with no contact for a body", ["role"])
        self.superseded = counter(
            "superseded", "Stale warnings not sent (deadline passed or a later step)", ["channel"]
        )
        self.bad_input = counter("bad_input", "Outbox records rejected as malformed", ["source"])
        self.backlog = Gauge(
            f"{prefix}_outbox", "Outbox rows by status", ["status"], registry=registry
        )
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def of(self, metric: Counter | Gauge, *values: str) -> Any:
        """`metric.labels(*values)`, looked up once: the library's lookup (a lock, a check of
        every value) cost more than a dry-run send, at every send and every pass."""
        key = (id(metric), values)
        hit = self._children.get(key)
        if hit is None:
            hit = self._children[key] = metric.labels(*values)
        return hit


class SlidingWindow:
    """Requests in the last minute per robot; a service's own "too fast" blocks a full window."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.times: deque[datetime] = deque()
        self.blocked_until: datetime | None = None

    def room(self, now: datetime) -> int:
        while self.times and self.times[0] <= now - WINDOW:
            self.times.popleft()
        if self.blocked_until and now < self.blocked_until:
            return 0
        return max(0, self.limit - len(self.times))

    def record(self, now: datetime) -> None:
        self.times.append(now)

    def block(self, now: datetime) -> None:
        self.blocked_until = now + WINDOW

    def next_free(self, now: datetime) -> datetime:
        candidates = [now + timedelta(seconds=1)]
        if self.times and len(self.times) >= self.limit:
            candidates.append(self.times[0] + WINDOW)
        if self.blocked_until and self.blocked_until > now:
            candidates.append(self.blocked_until)
        return max(candidates)


class BadMessage(ValueError):
    pass


def decode_message(raw: bytes, source: str) -> OutboxMessage:
    try:
        return msgspec.json.decode(raw, type=OutboxMessage)
    except msgspec.ValidationError as exc:
        raise BadMessage(f"{source}: invalid notification record: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadMessage(f"{source}: not JSON: {exc}") from exc


# Told of every delivery once it is marked sent (rows, when, the service's answer): the edge
# writes it to the incident audit log.
OnSent = Callable[[Sequence[OutboxRow], datetime, str], None]


class Notifier:
    """Turns notification intents into outbox rows and drains the outbox through channels."""

    def __init__(
        self,
        settings: NotifySettings,
        outbox: Outbox,
        channels: dict[str, Channel],
        clock: Clock,
        registry: CollectorRegistry,
        policy: DeliveryPolicy | None = None,
        dead_letter: Callable[[bytes, str], None] | None = None,
        on_sent: OnSent | None = None,
    ) -> None:
        self.on_sent = on_sent
        self.settings = settings
        self.outbox = outbox
        self.channels = channels
        self.clock = clock
        self.policy = policy or DeliveryPolicy()
        self.metrics = NotifyMetrics(registry)
        self.dead_letter = dead_letter or _log_dead_letter
        self._windows: dict[str, SlidingWindow] = {}
        # outbox row id → its message's notice; a row's message never changes once stored
        self._notices: dict[int, _Notice] = {}

    # --- intake -------------------------------------------------------------------------

    def submit(self, msg: OutboxMessage) -> Plan:
        """Plan who hears of `msg` and persist one row per channel. Repeats are ignored."""
        _check(msg)
        decided = plan(self.settings.ladder, msg.trigger())
        self._enqueue(msg, decided)
        if decided.unreachable:
            self._alert_unreachable(msg, decided)
        return decided

    def submit_raw(self, raw: bytes, source: str = "notifications") -> Plan | None:
        """Decode a record from the outbox topic; a bad one goes to the dead-letter sink."""
        try:
            msg = decode_message(raw, source)
            _check(msg, source)
        except BadMessage as exc:
            self.metrics.bad_input.labels(source).inc()
            self.dead_letter(raw, str(exc))
            return None
        return self.submit(msg)

    def _enqueue(self, msg: OutboxMessage, decided: Plan, skip: str | None = None) -> int:
        body = msgspec.json.encode(msg).decode()
        rows = [
            NewRow(
                key=d.key,
                message_key=msg.key,
                incident_id=msg.incident_id,
                channel=d.channel,
                message=body,
                recipients=msgspec.json.encode(d.recipients).decode(),
                not_before=d.not_before,
                clock_id=msg.clock_id,
            )
            for d in decided.deliveries
            if d.channel != skip
        ]
        return self.outbox.enqueue(rows, self.clock())

    # --- start-up -----------------------------------------------------------------------

    def recover(self) -> list[OutboxRow]:
        """Handle rows a previous process left in flight; returns those marked uncertain."""
        now = self.clock()
        uncertain: list[OutboxRow] = []
        for row in self.outbox.inflight():
            channel = self.channels.get(row.channel)
            if channel is not None and channel.idempotent and row.batch_key is None:
                self.outbox.mark_retry(
                    [row.id], now, "cut off by a restart; resent with its key", False
                )
                continue
            self.outbox.mark_uncertain([row.id], "cut off by a restart mid-send; not resent")
            self.metrics.uncertain.labels(row.channel).inc()
            uncertain.append(row)
        if uncertain:
            self._alert(
                uncertain,
                Step.UNCERTAIN,
                "进程在发送过程中中断，无法确认以下通知是否送达，请人工核实",
            )
        for name in self.channels:
            self._window(name).times = deque(sorted(self.outbox.sends_since(name, now - WINDOW)))
        return uncertain

    # --- draining -----------------------------------------------------------------------

    async def run_once(self) -> int:
        """Send what is due now. Returns the number of notifications delivered."""
        now = self.clock()
        groups: dict[str, list[OutboxRow]] = {}
        for row in self.outbox.due(now, self.policy.batch):
            groups.setdefault(row.channel, []).append(row)
        done = await asyncio.gather(
            *(self._drain(name, rows, now) for name, rows in groups.items())
        )
        for status, count in self.outbox.count_by_status().items():
            self.metrics.of(self.metrics.backlog, status).set(count)
        return sum(done)

    async def run_forever(self, stop: asyncio.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # one bad pass must not stop the notifier
                log.exception("notification pass failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    async def _drain(self, name: str, rows: list[OutboxRow], now: datetime) -> int:
        channel = self.channels.get(name)
        if channel is None:
            self._fail(rows, f"no channel named {name!r} is configured", name)
            return 0
        rows = self._drop_stale(name, rows, now)
        window = self._window(name)
        batches = self._batches(channel, rows, window.room(now), now)
        chosen = {r.id for b in batches for r in b}
        held = [r for r in rows if r.id not in chosen]
        if held:
            self.outbox.defer([r.id for r in held], window.next_free(now))
            self.metrics.rate_limited.labels(name).inc(len(held))
        delivered = 0
        for batch in batches:
            delivered += await self._send_batch(channel, window, batch, now)
        return delivered

    def _drop_stale(self, name: str, rows: list[OutboxRow], now: datetime) -> list[OutboxRow]:
        """Warnings that no longer say anything true are not sent: their deadline passed (the
        breach notice tells the rest), or a later step of the same clock exists (after
        downtime, or while quiet hours held them). Marked `superseded`, with the reason."""
        keep = []
        for row in rows:
            msg = msgspec.json.decode(row.message, type=OutboxMessage)
            why = self._stale_reason(msg, now)
            if why is None:
                keep.append(row)
                continue
            self.outbox.mark_superseded([row.id], why)
            self.metrics.of(self.metrics.superseded, name).inc()
        return keep

    def _stale_reason(self, msg: OutboxMessage, now: datetime) -> str | None:
        if msg.step is not Step.WARNING or msg.clock_id is None:
            return None
        if msg.deadline is not None and msg.deadline <= now:
            return f"deadline {msg.deadline.isoformat()} passed before it could be sent"
        for row in self.outbox.for_clock(msg.incident_id, msg.clock_id):
            other = self._notice(row)
            later = other.step is Step.BREACH or (other.step is Step.WARNING and other.at > msg.at)
            if other.clock_id == msg.clock_id and later:
                return f"a later notice of the same clock exists ({other.key})"
        return None

    def _notice(self, row: OutboxRow) -> _Notice:
        hit = self._notices.get(row.id)
        if hit is None:
            if len(self._notices) >= NOTICES_KEPT:
                del self._notices[next(iter(self._notices))]  # the oldest entry
            hit = self._notices[row.id] = _notice.decode(row.message)
        return hit

    def _batches(
        self, channel: Channel, rows: list[OutboxRow], room: int, now: datetime
    ) -> list[list[OutboxRow]]:
        """One request per row while the rate limit allows; beyond it, digests that the
        service will take whole, as many as the limit leaves room for."""
        if room <= 0:
            return []
        if len(rows) <= room:
            return [[r] for r in rows]
        chunks: list[list[OutboxRow]] = []
        current: list[OutboxRow] = []
        for row in rows:
            trial = [*current, row]
            if current and not self._fits(channel, trial, now):
                chunks.append(current)
                if len(chunks) == room:
                    return chunks
                trial = [row]
            current = trial
        return [*chunks, current] if current else chunks

    def _fits(self, channel: Channel, rows: list[OutboxRow], now: datetime) -> bool:
        if len(rows) > self.policy.max_per_digest:
            return False
        msgs = [msgspec.json.decode(r.message, type=OutboxMessage) for r in rows]
        return channel.fits(render_digest(msgs, now), _recipients(rows))

    async def _send_batch(
        self, channel: Channel, window: SlidingWindow, batch: list[OutboxRow], now: datetime
    ) -> int:
        batch_key = _digest_key(batch) if len(batch) > 1 else None
        claimed = self.outbox.claim([r.id for r in batch], uuid.uuid4().hex, now, batch_key)
        if not claimed:
            return 0
        msgs = [msgspec.json.decode(r.message, type=OutboxMessage) for r in claimed]
        note = render(msgs[0], now) if len(msgs) == 1 else render_digest(msgs, now)
        result = await self._call(
            channel, note, _recipients(claimed), batch_key or claimed[0].key, now
        )
        window.record(now)
        self.metrics.of(self.metrics.requests, channel.name, _outcome(result)).inc()
        return self._settle(channel.name, window, claimed, result, now)

    async def _call(
        self, channel: Channel, note: Rendered, to: tuple[Recipient, ...], key: str, now: datetime
    ) -> SendResult:
        try:
            return await channel.send(note, to, key, now)
        except Exception as exc:  # a channel bug must not strand rows in flight
            log.exception("channel %s raised while sending %s", channel.name, key)
            return SendResult(ok=False, answer=f"{type(exc).__name__}: {exc}", retryable=True)

    def _settle(
        self,
        name: str,
        window: SlidingWindow,
        rows: list[OutboxRow],
        result: SendResult,
        now: datetime,
    ) -> int:
        ids = [r.id for r in rows]
        if result.ok:
            self.outbox.mark_sent(ids, now, result.answer)
            self.metrics.of(self.metrics.sent, name).inc(len(rows))
            if self.on_sent is not None:
                self.on_sent(rows, now, result.answer)
            if len(rows) > 1:
                self.metrics.coalesced.labels(name).inc(len(rows))
            return len(rows)
        if result.rate_limited:
            window.block(now)
            self.outbox.mark_retry(
                ids, window.next_free(now), f"rate limited: {result.answer}", False
            )
            self.metrics.rate_limited.labels(name).inc(len(rows))
            return 0
        if result.retryable and not self._expired(rows, now):
            self._retry(name, rows, result, now)
            return 0
        self._fail(rows, result.answer, name)
        return 0

    def _retry(self, name: str, rows: list[OutboxRow], result: SendResult, now: datetime) -> None:
        attempts = max(r.attempts for r in rows) + 1
        at = now + timedelta(seconds=self._backoff(attempts))
        self.outbox.mark_retry([r.id for r in rows], at, result.answer, True)
        self.metrics.retries.labels(name).inc(len(rows))
        fresh = [
            r for r in rows if not r.alerted and r.attempts + 1 >= self.policy.alert_after_attempts
        ]
        if fresh:
            self._alert(
                fresh, Step.DELIVERY_FAILED, f"通知多次发送失败，系统仍在重试：{result.answer}"
            )

    def _fail(self, rows: list[OutboxRow], error: str, name: str) -> None:
        self.outbox.mark_failed([r.id for r in rows], error)
        self.metrics.failed.labels(name).inc(len(rows))
        self._alert(rows, Step.DELIVERY_FAILED, f"通知发送失败且不再重试：{error}", final=True)

    def _expired(self, rows: list[OutboxRow], now: datetime) -> bool:
        return now - min(r.created_at for r in rows) >= self.policy.give_up_after

    def _backoff(self, attempts: int) -> float:
        p = self.policy
        wait = wait_exponential(multiplier=p.backoff_initial_s, max=p.backoff_max_s) + wait_random(
            0, p.backoff_jitter_s
        )
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
        state.attempt_number = attempts
        return float(wait(state))

    def _window(self, name: str) -> SlidingWindow:
        if name not in self._windows:
            spec = self.settings.channels.get(name)
            self._windows[name] = SlidingWindow(spec.limit_per_minute if spec else 20)
        return self._windows[name]

    # --- alerts to duty staff -----------------------------------------------------------

    def _alert(self, rows: list[OutboxRow], step: Step, why: str, final: bool = False) -> None:
        """Tell duty staff, through any channel but the one at fault, which notices are stuck."""
        for row in rows:
            if row.message_key.startswith("alert/"):
                # An alert about an alert would loop; the metric and the log carry it.
                self.metrics.undeliverable_alerts.labels(step.value).inc()
                log.error("alert %s could not be delivered: %s", row.key, why)
                continue
            orig = msgspec.json.decode(row.message, type=OutboxMessage)
            tag = "final" if final else "retrying"
            alert = OutboxMessage(
                key=f"alert/{step.value}/{tag}/{row.key}", incident_id=orig.incident_id, step=step,
                grade=orig.grade, at=self.clock(), title=f"{orig.title}（渠道：{row.channel}）",
                place=orig.place, bodies=orig.bodies, link=orig.link,
                expected=f"{why}。原通知：{render(orig, self.clock()).title}",
            )  # fmt: skip
            decided = plan(self.settings.ladder, alert.trigger())
            duty_only = _duty_only(decided)
            if self._enqueue(alert, duty_only, skip=row.channel) or _has_other(
                duty_only, row.channel
            ):
                self.metrics.alerts.labels(step.value).inc()
            else:
                self.metrics.undeliverable_alerts.labels(step.value).inc()
                log.error("no other channel reaches duty staff about %s: %s", row.key, why)
        self.outbox.mark_alerted([r.id for r in rows])

    def _alert_unreachable(self, msg: OutboxMessage, decided: Plan) -> None:
        missing = "、".join(f"{u.body or '全市'}的{u.role.label}" for u in decided.unreachable)
        for u in decided.unreachable:
            self.metrics.unreachable.labels(u.role.value).inc()
        alert = OutboxMessage(
            key=f"alert/unreachable/{msg.key}", step=Step.DELIVERY_FAILED,
            incident_id=msg.incident_id, grade=msg.grade, at=msg.at, title=msg.title,
            place=msg.place, bodies=msg.bodies, link=msg.link,
            expected=f"联系人配置缺失，以下人员未能收到通知，请人工转告：{missing}",
        )  # fmt: skip
        self._enqueue(alert, _duty_only(plan(self.settings.ladder, alert.trigger())))
        self.metrics.alerts.labels("unreachable").inc()


def _check(msg: OutboxMessage, source: str = "notification") -> None:
    """What decoding cannot see on an in-process record: times without a zone."""
    naive = [f"clocks[{i}].deadline" for i, c in enumerate(msg.clocks) if c.deadline.tzinfo is None]
    if msg.at.tzinfo is None:
        naive.insert(0, "at")
    if naive:
        raise BadMessage(f"{source} {msg.key!r}: time without a zone in {', '.join(naive)}")


def _duty_only(decided: Plan) -> Plan:
    """Keep only duty-staff recipients: an alert about a stuck notice is the duty office's job."""
    kept = []
    for d in decided.deliveries:
        rs = tuple(r for r in d.recipients if r.role is Role.DUTY_STAFF)
        if rs:
            kept.append(msgspec.structs.replace(d, recipients=rs, not_before=decided.trigger.at))
    return msgspec.structs.replace(decided, deliveries=tuple(kept))


def _has_other(decided: Plan, channel: str) -> bool:
    return any(d.channel != channel for d in decided.deliveries)


def _recipients(rows: list[OutboxRow]) -> tuple[Recipient, ...]:
    seen: list[Recipient] = []
    for row in rows:
        for r in msgspec.json.decode(row.recipients, type=tuple[Recipient, ...]):
            if r not in seen:
                seen.append(r)
    return tuple(seen)


def _digest_key(rows: list[OutboxRow]) -> str:
    joined = "\n".join(sorted(r.key for r in rows))
    return "digest/" + hashlib.sha256(joined.encode()).hexdigest()[:32]


def _outcome(result: SendResult) -> str:
    if result.ok:
        return "ok"
    return (
        "rate_limited" if result.rate_limited else ("retryable" if result.retryable else "rejected")
    )


def _log_dead_letter(raw: bytes, reason: str) -> None:
    log.error("dead letter: %s: %r", reason, raw[:200])
