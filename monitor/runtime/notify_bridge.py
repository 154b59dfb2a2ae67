"""The bridge from the `notifications` topic to the notifier's outbox.

    bridge = NotifyBridge(broker, topic, notifier, dlq_topic=..., link_base=...)
    await bridge.run(stop)

Each record is a NotificationIntent from the incident agent, carrying the incident's clocks as
they stood when its step fired. It is decoded, given a link to the incident's page under the
configured public URL (none without one), and submitted; only then is its offset committed.
A crash between the two re-reads the record and submits it again, which adds nothing: the
outbox is keyed by the intent's idempotency key. So every record reaches the outbox once, and
the outbox sends it once.

A record that is not a valid intent goes to the dead-letter topic with the reason, and counts
in `yuqing_notify_bad_input_total{source="notifications"}`; the bridge goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from monitor.domain.events import NotificationIntent
from monitor.notify.audit import audit_deliveries
from monitor.notify.bootstrap import create_notifier
from monitor.notify.channels import Channel, DryRunChannel, make_channel
from monitor.notify.config import ChannelSpec, load_channels
from monitor.notify.delivery import BadMessage, Notifier
from monitor.notify.message import OutboxMessage, from_intent, incident_link
from monitor.runtime.producer import bootstrap
from monitor.store import Store
from monitor.topics import DeadLetter, Topic, excerpt, topic
from streams.halt import stop_on_storage_fault
from streams.records import encoder

log = logging.getLogger(__name__)
GROUP = "monitor-notify-bridge"
_intent = msgspec.json.Decoder(NotificationIntent)


class NotifyBridge:
    def __init__(
        self,
        broker: str,
        topic: str,
        notifier: Notifier,
        *,
        dlq_topic: str | None = None,
        link_base: str | None = None,
        group: str = GROUP,
    ) -> None:
        self.broker = broker
        self.topic = topic
        self.notifier = notifier
        self.dlq_topic = dlq_topic
        self.link_base = link_base.rstrip("/") if link_base else None
        self.group = group
        self._producer: AIOKafkaProducer | None = None

    async def run(self, stop: asyncio.Event, poll_ms: int = 500) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=bootstrap(self.broker), group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            # a restarted bridge takes its partitions over sooner (6 s is Kafka's minimum)
            session_timeout_ms=6000, heartbeat_interval_ms=1000, rebalance_timeout_ms=3000,
        )  # fmt: skip
        await consumer.start()
        if self.dlq_topic:
            self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap(self.broker), acks="all")
            await self._producer.start()
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=poll_ms)
                for tp, records in batches.items():
                    await self._take(consumer, tp, records)
        finally:
            await consumer.stop()
            if self._producer is not None:
                await self._producer.stop()

    async def _take(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[ConsumerRecord]
    ) -> None:
        for r in records:
            await self.handle(r.value or b"", f"{tp.topic}@{tp.partition}:{r.offset}")
            # commit after each submit: a crash re-reads at most the one record in hand
            await consumer.commit({tp: r.offset + 1})

    async def handle(self, raw: bytes, where: str) -> bool:
        """Submit one record; False if it went to the dead letters."""
        try:
            intent = _intent.decode(raw)
            await asyncio.to_thread(self.notifier.submit, self._message(intent))
        except (msgspec.DecodeError, msgspec.ValidationError, BadMessage, ValueError) as exc:
            await self._dead(raw, f"{where}: not a valid notification intent: {exc}")
            return False
        return True

    def _message(self, intent: NotificationIntent) -> OutboxMessage:
        return from_intent(intent, link=incident_link(self.link_base, intent.incident_id))

    async def _dead(self, raw: bytes, reason: str) -> None:
        self.notifier.metrics.bad_input.labels("notifications").inc()
        self.notifier.dead_letter(raw, reason)
        if self._producer is None or self.dlq_topic is None:
            return
        letter = DeadLetter(
            source=self.topic, reason=reason, raw=excerpt(raw), at=datetime.now(UTC)
        )
        await self._producer.send_and_wait(
            self.dlq_topic, encoder.encode(letter), key=self.topic.encode()
        )


def dry_run_channels(notifier: Notifier, record_to: Path) -> None:
    """Every channel of the ladder records to `record_to` (JSON lines) instead of sending."""
    notifier.channels = {
        name: DryRunChannel(ChannelSpec(name=name, type="dryrun", url=f"dryrun:{record_to}"))
        for name in notifier.settings.channels
    }


def use_channels_file(notifier: Notifier, path: str | Path) -> list[str]:
    """Real channels from a `channels:` file replace the ladder's channels of the same name.
    Returns the ladder's channels the file does not name (they stay as they were)."""
    specs = load_channels(path)
    unknown = [s.name for s in specs if s.name not in notifier.settings.channels]
    if unknown:
        names = ", ".join(notifier.settings.channels)
        raise ValueError(f"{path}: channels {', '.join(unknown)} are not in the ladder ({names})")
    given: dict[str, Channel] = {s.name: make_channel(s) for s in specs}
    notifier.channels = {**notifier.channels, **given}
    return [n for n in notifier.settings.channels if n not in given]


async def run_notifier(notifier: Notifier, bridge: NotifyBridge, stop: asyncio.Event) -> None:
    """The bridge and the outbox sender side by side until `stop` (or cancellation)."""
    notifier.recover()
    sender = asyncio.create_task(notifier.run_forever(stop))
    try:
        await bridge.run(stop)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await sender


def notify_in_worker(
    broker: str,
    prefix: str,
    outbox_db: str,
    registry: Any,
    *,
    store_db: str | None,
    record_to: Path,
    channels_file: str | None = None,
    link_base: str | None = None,
    ladder: Path | None = None,
) -> Callable[[faust.App], None]:
    """A Faust task that runs the bridge and the sender inside the worker (`monitor run`).
    `ladder`: the city's escalation file (default the packaged Ziyang one).

    Without `channels_file` every channel is a dry run recorded to `record_to`, so a newcomer
    sees what would be sent and nothing leaves the machine."""
    notifier = create_notifier(outbox_db, registry, ladder, dry_run=True)
    if store_db:
        notifier.on_sent = audit_deliveries(Store(store_db))
    dry_run_channels(notifier, record_to)
    if channels_file:
        use_channels_file(notifier, channels_file)

    def attach(app: faust.App) -> None:
        @app.task
        async def notify() -> None:
            bridge = NotifyBridge(
                broker, topic(Topic.NOTIFICATIONS, prefix), notifier,
                dlq_topic=topic(Topic.DLQ, prefix),
                link_base=link_base,
            )  # fmt: skip
            try:
                await run_notifier(notifier, bridge, asyncio.Event())
            except Exception as exc:
                # a full or read-only disk under the outbox: stop the monitor in one line
                stop_on_storage_fault(exc, outbox_db.removeprefix("sqlite:///"))
                raise

    return attach
