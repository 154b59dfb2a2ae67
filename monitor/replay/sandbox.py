"""The replay sandbox: the worker's own stages, in this process, in pure event time.

    box = Sandbox(config)                          # nothing shared with a running monitor
    run = box.run(inputs, progress=callback)       # inputs in arrival order (history.py)

The stages are the ones `streams.bootstrap` wires for a live worker (`build_stages(...,
live=True)`): classify, then the incident agent's work on the same `Processor`. Only the wall
clock is replaced, by the replay's clock, which reads the event time of what is being
replayed: a batch of posts is accepted at its latest arrival (so the event-time guard bounds
each post by that plus the skew, as live by the wall clock), an answer at its recorded time,
and the clocks are ticked at each due time in order, bucket by bucket, as a live worker
ticking every second would fire them. Nothing reads the wall clock, so two runs of one input
give identical output.

Notifications take the live path up to the channel: each intent goes through the notifier
(`from_intent`, the escalation tree's plan, the outbox with its quiet hours, rate limits,
digests and stale-warning drops), drained on the replay's clock, into dry-run channels that
record what would have been sent. The outbox is an in-memory SQLite database of the sandbox's
own, gone with it; no checkpoint is kept anywhere.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry

from monitor.config import CityConfig, ladder_path
from monitor.domain.events import Event, EventKind, NotificationIntent
from monitor.domain.state import IncidentState
from monitor.metrics import Metrics
from monitor.notify.bootstrap import channels_for, outbox_engine
from monitor.notify.channels import DryRunChannel
from monitor.notify.config import load_ladder
from monitor.notify.delivery import Notifier
from monitor.notify.message import from_intent
from monitor.notify.outbox import Outbox, OutboxRow
from monitor.replay.history import AnswerIn, BadLine, Input, PostIn
from monitor.replay.memory_outbox import MemoryOutbox
from monitor.topics import DeadLetter, Topic
from streams.bootstrap import build_stages
from streams.buckets import Buckets
from streams.records import ActionIn, Tick, encoder
from streams.stages import Inbound, Record

# A batch of posts spans at most this much event time: each is accepted at the batch's latest
# arrival, so its times are trusted up to at most this much beyond its own arrival + the skew.
BATCH_SPAN = timedelta(seconds=30)
BATCH_POSTS = 1000

_event = msgspec.json.Decoder(Event)
_intent = msgspec.json.Decoder(NotificationIntent)
_state = msgspec.json.Decoder(IncidentState)
_letter = msgspec.json.Decoder(DeadLetter)


class _SentMessage(msgspec.Struct):
    """What a Delivery keeps of a sent row's message (decoding only these fields)."""

    step: str
    clock: str | None = None


class _SentTo(msgspec.Struct):
    name: str = ""


_sent_message = msgspec.json.Decoder(_SentMessage)
_sent_to = msgspec.json.Decoder(list[_SentTo])


class ReplayClock:
    """The sandbox's wall clock: the event time being replayed, never moving back."""

    def __init__(self) -> None:
        self.now = datetime.min.replace(tzinfo=UTC)
        self.started = False

    def set(self, t: datetime) -> None:
        if not self.started or t > self.now:
            self.now, self.started = t, True

    def __call__(self) -> datetime:
        return self.now


class SandboxBuckets(Buckets):
    """The Table of a sandbox is a dict only `put` writes, so its keys are the cache's: no
    scan of every entry at each tick (a live Table is also written by changelog recovery)."""

    def held(self) -> set[str]:
        return set(self._cache)

    def held_in(self, partition: int) -> set[str]:
        """A tick of one partition asks its own keys (the sandbox gives each key its own
        partition), not every key of the replay."""
        return set(self._written.get(partition, ()))


@dataclass(frozen=True)
class Delivery:
    """One notification the dry run recorded: what would have been sent, when, to whom."""

    incident_id: str
    at: datetime
    channel: str
    step: str
    clock: str | None
    to: tuple[str, ...]
    key: str


@dataclass
class Run:
    """What a replay produced. `events`: each incident's events in the order they were
    decided, except `assigned` (one per post), kept as `posts` (post id, event time)."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    posts: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)
    states: dict[str, IncidentState] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[BadLine] = field(default_factory=list)
    posts_in: int = 0
    answers_in: int = 0
    end: datetime | None = None


Progress = Callable[[int], None]


class Sandbox:
    def __init__(
        self,
        config: CityConfig,
        *,
        record_to: Path | None = None,
        anchors: dict[str, str] | None = None,
        outbox_db: str | None = None,
    ) -> None:
        """`record_to`: what the dry-run channels would have sent is written here (JSON lines).
        `anchors`: incident id → a post it held, to find an answer's incident when these
        rules gave it another id (a what-if replays the base run's answers)."""
        self.config = config
        self.clock = ReplayClock()
        self.metrics = Metrics.create(CollectorRegistry())
        self.buckets = SandboxBuckets({})
        self.stages = build_stages(config, self.buckets, self.metrics, self.clock, live=True)
        self.anchors = anchors or {}
        ladder = load_ladder(ladder_path(config))
        # the outbox lives in memory (the sandbox's own, gone with it, no SQL per row) unless
        # `outbox_db` names a database, which tests use to check the two record the same
        if outbox_db is None:
            box: Any = MemoryOutbox()
        else:
            box = Outbox(outbox_engine(outbox_db))
            box.create()
        channels = channels_for(ladder, None, dry_run=True)
        self.notifier = Notifier(ladder, box, channels, self.clock, CollectorRegistry())
        self.record_to = record_to
        self.notifier.on_sent = self._sent
        self._loop = asyncio.new_event_loop()
        self.result = Run()
        self._states_raw: dict[str, bytes] = {}
        self._keys: dict[str, str] = {}  # incident id → its key
        self._home: dict[str, str] = {}  # post id → the incident it was assigned to
        self._merged: dict[str, str] = {}  # incident id → the incident it was merged into
        self._partition: dict[str, int] = {}
        self._due: list[tuple[datetime, str]] = []  # (next clock item, bucket key)
        self._held: list[datetime] = []  # outbox rows held until (quiet hours, rate window)
        self._unsent = False  # intents submitted since the outbox was last drained

    # --- the run ---------------------------------------------------------------------------

    def run(self, inputs: Iterable[Input], progress: Progress | None = None) -> Run:
        """Replay `inputs` (in arrival order) once; the sandbox is closed afterwards."""
        try:
            return self._run(inputs, progress)
        finally:
            self.close()

    def _run(self, inputs: Iterable[Input], progress: Progress | None) -> Run:
        batch: list[PostIn] = []
        last: datetime | None = None
        for inp in inputs:
            if batch and self._closes(batch, inp):
                self._posts(batch)
                if progress:
                    progress(len(batch))
                batch = []
            self._fire(inp.arrival, inclusive=False)
            last = inp.arrival if last is None else max(last, inp.arrival)
            if isinstance(inp, PostIn):
                batch.append(inp)
            else:
                self._answer(inp)
                if progress:
                    progress(1)
        if batch:
            self._posts(batch)
            if progress:
                progress(len(batch))
        if last is not None:
            self._fire(last, inclusive=True)
        self.result.end = last
        self._record()
        self.result.states = {i: _state.decode(raw) for i, raw in self._states_raw.items()}
        return self.result

    def close(self) -> None:
        self._loop.close()
        engine = getattr(self.notifier.outbox, "engine", None)
        if engine is not None:
            engine.dispose()

    def _record(self) -> None:
        """What the dry-run channels would have sent, as JSON lines in time order (written
        once at the end: a file append per notification cost more than the notification)."""
        if self.record_to is None:
            return
        sent = [r for ch in self.notifier.channels.values() if isinstance(ch, DryRunChannel)
                for r in ch.sent]  # fmt: skip
        sent.sort(key=lambda r: (r["at"], r["channel"], r["key"]))
        with self.record_to.open("w", encoding="utf-8") as fh:
            for r in sent:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")

    def _closes(self, batch: list[PostIn], inp: Input) -> bool:
        if not isinstance(inp, PostIn) or len(batch) >= BATCH_POSTS:
            return True
        if inp.arrival - batch[0].arrival > BATCH_SPAN:
            return True
        nxt = self._next_due()  # something falls due before this post: fire it first
        return nxt is not None and nxt < inp.arrival

    # --- inputs ----------------------------------------------------------------------------

    def _posts(self, batch: Sequence[PostIn]) -> None:
        self.clock.set(max(p.arrival for p in batch))
        self.result.posts_in += len(batch)
        raw = [Inbound(encoder.encode(p.post)) for p in batch]
        records = self.stages.classify.apply(raw)
        wheres = {p.post.id: p.where for p in batch}
        self._handle(records, lambda: _single(wheres))

    def _answer(self, inp: AnswerIn) -> None:
        self.clock.set(inp.arrival)
        self.result.answers_in += 1
        action = inp.action
        ident = self._incident_of(inp)
        if ident is None:
            what = f"post {inp.post_id}" if inp.post_id else f"incident {action.incident_id}"
            self._refuse(inp.where, f"answer refused: no incident holds {what} at {inp.arrival}")
            return
        action = msgspec.structs.replace(action, incident_id=ident)
        target_key = None
        if action.target is not None:
            target = self._resolve(action.target) or action.target
            action = msgspec.structs.replace(action, target=target)
            target_key = self._keys.get(target)
        key = self._keys[ident]
        rec = ActionIn(key, action, inp.arrival, target_key)
        self._handle(
            [Record(Topic.CLASSIFIED, key.encode(), encoder.encode(rec))], lambda: inp.where
        )

    def _incident_of(self, inp: AnswerIn) -> str | None:
        """An incident id is taken as it is (an answer to a merged-away incident is refused,
        as it was live); a post finds the incident holding it now, following merges."""
        if inp.action.incident_id:
            if inp.action.incident_id in self._keys:
                return inp.action.incident_id
            anchor = self.anchors.get(inp.action.incident_id)
            if anchor is not None and anchor in self._home:
                return self._resolve(self._home[anchor])
            return None
        if inp.post_id in self._home:
            return self._resolve(self._home[inp.post_id])
        return None

    def _resolve(self, ident: str) -> str | None:
        seen = set()
        while ident in self._merged and ident not in seen:  # follow merges to the survivor
            seen.add(ident)
            ident = self._merged[ident]
        return ident if ident in self._keys else None

    # --- the stages' records -----------------------------------------------------------------

    def _handle(self, records: list[Record], where: Callable[[], str | None]) -> None:
        """Feed posts.classified records to the incident stage (and what it sends on to other
        keys, as the topic would) and take in what comes out."""
        todo = records
        while todo:
            inbound: list[Inbound] = []
            touched: set[str] = set()
            for r in todo:
                if r.topic == Topic.CLASSIFIED and r.key is not None:
                    key = r.key.decode()
                    touched.add(key)
                    inbound.append(Inbound(r.value or b"", self._part(key)))
                else:
                    self._take(r, where)
            todo = []
            if not inbound:
                break
            for r in self.stages.incidents.apply(inbound):
                if r.topic == Topic.CLASSIFIED:
                    todo.append(r)
                else:
                    self._take(r, where)
            for key in touched:
                self._schedule(key)
        self._notify()

    def _take(self, r: Record, where: Callable[[], str | None]) -> None:
        if r.value is None:
            return
        if r.topic == Topic.EVENTS:
            self._event(_event.decode(r.value))
        elif r.topic == Topic.STATE and r.key is not None:
            self._states_raw[r.key.decode()] = r.value
        elif r.topic == Topic.NOTIFICATIONS:
            intent = _intent.decode(r.value)
            plan = self.notifier.submit(from_intent(intent))
            self._unsent = True
            for d in plan.deliveries:
                if d.not_before > self.clock():  # quiet hours hold it until then
                    self._hold(d.not_before)
        elif r.topic == Topic.DLQ:
            letter = _letter.decode(r.value)
            self._refuse(where() or f"replay ({letter.source})", letter.reason)

    def _event(self, e: Event) -> None:
        ident = e.incident_id
        if e.kind is EventKind.ASSIGNED:
            post_id = str(e.data.get("post_id"))
            self._home[post_id] = ident
            self.result.posts.setdefault(ident, []).append((post_id, e.at))
            return
        if e.kind is EventKind.OPENED:
            self._keys[ident] = str(e.data["key"])
        elif e.kind is EventKind.MERGED:
            self._merged[ident] = str(e.data["into"])
        elif e.kind is EventKind.SPLIT:
            new = str(e.data["new_incident"])
            self._keys[new] = self._keys.get(ident, "")
        self.result.events.setdefault(ident, []).append(e)

    def _refuse(self, where: str, reason: str) -> None:
        self.result.refused.append(BadLine(where, reason))

    def _part(self, key: str) -> int:
        """A partition per key, so a tick reaches only the bucket whose item is due."""
        return self._partition.setdefault(key, len(self._partition))

    # --- clocks ----------------------------------------------------------------------------

    def _schedule(self, key: str) -> None:
        bucket = self.stages.incidents.current(key)
        if bucket is None:
            return
        due = self.stages.incidents.processor.next_due(bucket)
        if due is not None:
            heapq.heappush(self._due, (due, key))

    def _next_due(self) -> datetime | None:
        return min(filter(None, (self._due[0][0] if self._due else None,
                                 self._held[0] if self._held else None)), default=None)  # fmt: skip

    def _fire(self, until: datetime, inclusive: bool) -> None:
        """Everything due before `until` (or at it), in time order: clock items bucket by
        bucket, and outbox rows held until then."""

        def due(t: datetime) -> bool:
            return t <= until if inclusive else t < until

        while True:
            nxt = self._next_due()
            if nxt is None or not due(nxt):
                return
            if self._held and self._held[0] == nxt:
                heapq.heappop(self._held)
                self.clock.set(nxt)
                self._unsent = True
                self._notify()
                continue
            t, key = heapq.heappop(self._due)
            processor = self.stages.incidents.processor
            bucket = self.stages.incidents.current(key)
            current = processor.next_due(bucket) if bucket else None
            if current != t:
                continue  # stale: the bucket moved on (an input fired it, or an answer)
            self.clock.set(t)
            tick = Inbound(encoder.encode(Tick(watermark=t)), self._part(key))
            for r in self.stages.incidents.apply([tick]):
                self._take(r, lambda: None)
            bucket = self.stages.incidents.current(key)
            later = processor.next_due(bucket) if bucket else None
            if later is not None and later <= t and bucket is not None:  # still due: the next
                later = min(
                    (d for s in bucket.incidents if (d := s.next_due_at) and d > t), default=None
                )
            if later is not None:
                heapq.heappush(self._due, (later, key))
            self._notify()

    # --- notifications ---------------------------------------------------------------------

    def _notify(self) -> None:
        if not self._unsent:  # drained only when it has news
            return
        self._unsent = False
        self._loop.run_until_complete(self.notifier.run_once())
        # a row the rate window deferred is due again later: drain the outbox then too
        later = _next_pending(self.notifier.outbox)
        if later is not None and later > self.clock():
            self._hold(later)

    def _hold(self, until: datetime) -> None:
        if until not in self._held:  # few distinct times: the heap stays short
            heapq.heappush(self._held, until)

    def _sent(self, rows: Sequence[OutboxRow], when: datetime, answer: str) -> None:
        for row in rows:
            msg = _sent_message.decode(row.message)
            to = tuple(r.name for r in _sent_to.decode(row.recipients))
            self.result.deliveries.append(Delivery(
                incident_id=row.incident_id, at=when, channel=row.channel, step=msg.step,
                clock=msg.clock, to=to, key=row.key,
            ))  # fmt: skip


def _next_pending(outbox: Any) -> datetime | None:
    if isinstance(outbox, MemoryOutbox):
        return outbox.next_due()
    pending = [r.next_attempt_at for r in outbox.all() if r.status == "pending"]
    return min(pending, default=None)


def _single(wheres: dict[str, str]) -> str | None:
    return next(iter(wheres.values())) if len(wheres) == 1 else None
