"""What each agent does with a batch, without Faust: records in, records out.

    classify = ClassifyStage(classifier, home, params, faults, metrics, clock)
    records = classify.apply(batch)           # Inbound records of posts.raw → Records to send
    incidents = IncidentStage(processor, buckets, faults, metrics, clock, live=True)
    records = incidents.apply(batch)          # posts.classified → events, intents, state, ...

The Faust agents (streams/app.py) hand each batch in and send what comes out, in order; the
benchmarks, the agent tests and an in-process replay drive the same code with no broker.

Nothing a record holds can stop a stage: a record that does not decode, that the domain
refuses, or whose handling raises anything at all is dead-lettered with the reason (`Faults`),
and the batch goes on. An unexpected exception is a poison record: besides the dead letter it
counts in `monitor_poison_records_total` and tells the duty office (a `record_refused`
notification, at most one per stage and exception type an hour).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from monitor.domain.actions import ActionError
from monitor.domain.escalation import Step
from monitor.domain.events import EventKind, NotificationIntent
from monitor.domain.incidents import incident_key
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from monitor.metrics import Metrics
from monitor.service import Classifier
from monitor.topics import MAX_RECORD_BYTES, DeadLetter, Topic, excerpt
from streams.buckets import Buckets, encode_state
from streams.processor import Bucket, Processor, Result, UnknownIncident
from streams.records import (
    Absorb,
    ActionIn,
    Classified,
    ClassifiedBatch,
    Tick,
    action_request_decoder,
    encoder,
    input_decoder,
    post_decoder,
    unbatch,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CHANGELOG = "changelog"  # the bucket Table's changelog; Faust names the topic
# A ClassifiedBatch stays well under the record limit.
MAX_BATCH_BYTES = 256 * 1024
# An action may leave an incident's state at most this large: posts then add at most the
# members, recent ids and texts the domain caps (~160 KiB with every id at its limit), so a
# state record stays under MAX_RECORD_BYTES whatever arrives.
ACTION_STATE_BUDGET = 256 * 1024


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Record(NamedTuple):
    """One record to send. `topic` is a Topic or CHANGELOG; value None deletes (changelog)."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One record read from a topic."""

    value: bytes
    partition: int = 0
    offset: int | None = None


class StateTooLarge(ValueError):
    pass


# --- faults ----------------------------------------------------------------------------------


class Faults:
    """Dead letters, their metrics, and the duty office's notice of a poison record."""

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock

    def dead(
        self, source: Topic, reason: str, raw: bytes | None, inb: Inbound | None = None
    ) -> Record:
        letter = DeadLetter(
            source=source.value, reason=reason, raw=excerpt(raw), at=self.clock(),
            partition=inb.partition if inb else None, offset=inb.offset if inb else None,
        )  # fmt: skip
        self.metrics.dead_letters.labels(source.value, letter.kind).inc()
        log.warning("dead letter from %s: %s", source.value, reason[:500])
        return Record(Topic.DLQ, source.value.encode(), encoder.encode(letter))

    def poison(
        self, source: Topic, stage: str, exc: BaseException, raw: bytes | None,
        inb: Inbound | None = None, incident_id: str = "-",
    ) -> list[Record]:  # fmt: skip
        """An input whose handling raised what no rule expects: dead-lettered, counted, and
        the duty office told, so a bug that eats records is seen the hour it starts."""
        log.error("poison record in %s (%s)", stage, source.value, exc_info=exc)
        self.metrics.poison.labels(stage).inc()
        what = f"{type(exc).__name__}: {exc}"
        letter = self.dead(source, f"poison: {stage}: {what}"[:2000], raw, inb)
        return [letter, self._notice(stage, what, incident_id)]

    def _notice(self, stage: str, what: str, incident_id: str) -> Record:
        now = self.clock()
        kind = what.split(":", 1)[0]
        # one notice per stage and exception type an hour: a flood of one bad kind of record
        # must not become a flood of messages
        key = f"notify:fault:{stage}:{kind}:{now:%Y%m%d%H}"
        intent = NotificationIntent(
            key=key, event_id=key.removeprefix("notify:"), incident_id=incident_id,
            step=Step.RECORD_REFUSED, at=now, grade=None, bodies=(),
            title=f"输入记录处理失败（{stage}）：{what}"[:200],
        )  # fmt: skip
        return Record(Topic.NOTIFICATIONS, key.encode(), encoder.encode(intent))


def bounded(records: Iterable[Record], faults: Faults) -> Iterator[Record]:
    """Every record under MAX_RECORD_BYTES: one over it (which the limits on post and action
    fields and the state budget should make impossible) is replaced by a dead letter naming it,
    instead of a MessageSizeTooLargeError that would stop the agent."""
    for rec in records:
        if rec.value is None or len(rec.value) <= MAX_RECORD_BYTES:
            yield rec
            continue
        faults.metrics.oversized.labels(rec.topic).inc()
        reason = f"too large: a {rec.topic} record of {len(rec.value):,} bytes was not sent"
        yield faults.dead(Topic.DLQ, reason, rec.value[:2000])


def chunks(items: list[bytes], limit: int) -> Iterator[list[bytes]]:
    """Consecutive runs of `items` of at most `limit` bytes each (an item larger than the limit
    goes alone)."""
    run: list[bytes] = []
    size = 0
    for item in items:
        if run and size + len(item) > limit:
            yield run
            run, size = [], 0
        run.append(item)
        size += len(item)
    if run:
        yield run


# --- classify --------------------------------------------------------------------------------


class ClassifyStage:
    """posts.raw → posts.classified: the posts of one incident key leave as one ClassifiedBatch
    (Faust's per-record cost on the consuming side was larger than the domain's work for a
    post), each stamped with when the monitor took it in (`accepted_at`)."""

    def __init__(
        self, classifier: Classifier, home: str, params: IncidentParams, faults: Faults,
        metrics: Metrics, clock: Clock,
    ) -> None:  # fmt: skip
        self.classifier = classifier
        self.home = home
        self.params = params
        self.faults = faults
        self.metrics = metrics
        self.clock = clock

    def apply(self, batch: Sequence[Inbound]) -> list[Record]:
        now = self.clock()
        self.metrics.posts_in.inc(len(batch))
        out: list[Record] = []
        ignored = 0
        by_key: dict[str, list[bytes]] = {}
        for inb in batch:
            try:
                post = post_decoder.decode(inb.value)
            except (msgspec.DecodeError, ValueError) as exc:
                out.append(self.faults.dead(Topic.RAW, f"bad post: {exc}", inb.value, inb))
                continue
            try:
                cls = self.classifier.classify(post)
                if not cls.is_incident:
                    ignored += 1
                    continue
                key = incident_key(cls, self.home, self.params)
                item = encoder.encode(Classified(key, post, cls, accepted_at=now))
            except Exception as exc:  # a post the classifier chokes on must not stop it
                out.extend(self.faults.poison(Topic.RAW, "classify", exc, inb.value, inb))
                continue
            by_key.setdefault(key, []).append(item)
        self.metrics.posts_ignored.inc(ignored)
        for key, items in by_key.items():
            for chunk in chunks(items, MAX_BATCH_BYTES):
                rec = ClassifiedBatch(key, tuple(msgspec.Raw(b) for b in chunk), taken_at=now)
                out.append(Record(Topic.CLASSIFIED, key.encode(), encoder.encode(rec)))
        return out


def route_action(inb: Inbound, faults: Faults) -> Record:
    """actions → posts.classified, keyed by the incident key, so an action is ordered with the
    posts of its incident."""
    try:
        req = action_request_decoder.decode(inb.value)
    except (msgspec.DecodeError, ValueError) as exc:
        return faults.dead(Topic.ACTIONS, f"bad action: {exc}", inb.value, inb)
    rec = ActionIn(req.key, req.action, req.recorded_at, req.target_key)
    return Record(Topic.CLASSIFIED, req.key.encode(), encoder.encode(rec))


# --- incidents -------------------------------------------------------------------------------


@dataclass
class _Batch:
    """What one batch of the incident agent collected."""

    result: Result = field(default_factory=lambda: Result(Bucket(key="", partition=-1)))
    records: list[Record] = field(default_factory=list)
    inputs: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


class IncidentStage:
    """posts.classified → incident.events, notifications, incident.state and the Table.

    `live`: the worker runs on the wall clock (`monitor run`, `worker --live`): no post, tick
    or action moves a watermark past `clock()` plus the skew. Without it (a replay, the
    benchmarks) records' own times rule, each post still bounded by its `accepted_at`."""

    def __init__(
        self, processor: Processor, buckets: Buckets, faults: Faults, metrics: Metrics,
        clock: Clock, live: bool,
    ) -> None:  # fmt: skip
        self.processor = processor
        self.buckets = buckets
        self.faults = faults
        self.metrics = metrics
        self.clock = clock
        self.live = live
        self.pending: dict[str, Bucket] = {}  # buckets changed in the current batch
        self._encoded: dict[str, tuple[IncidentState, bytes]] = {}
        self._tick_faults: dict[str, int] = {}  # bucket key → seq of its last tick fault
        self._live: dict[int, int] = {}  # live incidents by partition, at its last tick

    def apply(self, batch: Sequence[Inbound]) -> list[Record]:
        b = _Batch()
        now = self.clock() if self.live else None
        for inb in batch:
            try:
                rec = input_decoder.decode(inb.value)
            except (msgspec.DecodeError, ValueError) as exc:
                b.records.append(
                    self.faults.dead(Topic.CLASSIFIED, f"bad input: {exc}", inb.value, inb)
                )
                continue
            if isinstance(rec, ClassifiedBatch):
                items: Iterable[tuple[bytes, Any]] = unbatch(rec)
                if rec.taken_at is not None:
                    b.latencies.extend([rec.taken_at.timestamp()] * len(rec.items))
            else:
                items = [(inb.value, rec)]
            for body, one in items:
                if isinstance(one, str):
                    b.records.append(self.faults.dead(Topic.CLASSIFIED, one, body, inb))
                else:
                    self._one(one, body, inb, now, b)
        b.records.extend(self._flush())
        b.records.extend(self._publish(b.result))
        self._count(b)
        return b.records

    def current(self, key: str) -> Bucket | None:
        return self.pending.get(key) or self.buckets.get(key)

    # --- one input ----------------------------------------------------------------------------

    def _one(self, rec: Any, body: bytes, inb: Inbound, now: datetime | None, b: _Batch) -> None:
        """Apply one input; a refusal or a failure becomes a dead letter, never an exception."""
        try:
            if isinstance(rec, Tick):
                b.inputs["tick"] += 1
                b.records.extend(self._tick(rec, inb.partition, now, b.result))
                return
            res = self._input(rec, inb.partition, now, b.inputs)
        except (UnknownIncident, ActionError) as exc:
            b.records.append(self.faults.dead(Topic.ACTIONS, f"action refused: {exc}", body, inb))
            return
        except StateTooLarge as exc:
            b.records.append(self.faults.dead(Topic.CLASSIFIED, f"too large: {exc}", body, inb))
            return
        except ValueError as exc:  # a post the domain refuses (e.g. a time with no zone)
            b.records.append(self.faults.dead(Topic.CLASSIFIED, f"refused: {exc}", body, inb))
            return
        except Exception as exc:
            ident = getattr(getattr(rec, "action", None), "incident_id", "-")
            b.records.extend(
                self.faults.poison(Topic.CLASSIFIED, "incidents", exc, body, inb, ident)
            )
            return
        self.pending[res.bucket.key] = res.bucket
        _merge(b.result, res)

    def _input(
        self, rec: Any, partition: int, now: datetime | None, inputs: Counter[str]
    ) -> Result:
        """The Result of one post, action or absorb; raises what the domain refuses. Nothing
        is kept until it returns, so a failure leaves the bucket as it was."""
        p = self.processor
        bucket = self.current(rec.key) or Bucket(key=rec.key, partition=partition)
        if isinstance(rec, Classified):
            inputs["post"] += 1
            accepted = rec.accepted_at
            if now is not None:  # live: nothing later than the wall clock
                accepted = min(accepted or now, now)
            return p.on_post(bucket, rec.post, rec.cls, accepted)
        if isinstance(rec, Absorb):
            inputs["absorb"] += 1
            rec = msgspec.structs.replace(rec, recorded_at=p.trusted(rec.recorded_at, now))
            res = p.on_absorb(bucket, rec)
        else:
            inputs["action"] += 1
            at = p.trusted(rec.recorded_at, now)
            res = p.on_action(bucket, rec.action, at, rec.target_key)
        self._check_size(res)
        return res

    def _check_size(self, res: Result) -> None:
        """An action (or a merge) may not leave an incident's state over the budget; the
        encoding is kept for the flush."""
        for s in res.changed.values():
            raw = encode_state(s)
            if len(raw) > ACTION_STATE_BUDGET:
                raise StateTooLarge(
                    f"incident {s.id} would be {len(raw):,} bytes, over {ACTION_STATE_BUDGET:,}"
                )
            self._encoded[s.id] = (s, raw)

    def _tick(
        self, tick: Tick, partition: int, now: datetime | None, into: Result
    ) -> list[Record]:
        wm = self.processor.trusted(tick.watermark, now)
        out: list[Record] = []
        live = 0
        for key in self.buckets.held_in(partition) | self.pending.keys():
            bucket = self.current(key)
            if bucket is None or bucket.partition != partition:
                continue
            try:
                res = self.processor.on_tick(bucket, wm)
            except Exception as exc:
                out.extend(self._tick_fault(bucket, exc))
                continue
            if res.changed or _moved_on(bucket, res.bucket):
                self.pending[key] = res.bucket
            _merge(into, res)
            live += self.processor.live(res.bucket)
        self.metrics.watermark.set(wm.timestamp())
        self._live[partition] = live
        self.metrics.incidents_live.set(sum(self._live.values()))
        return out

    def _tick_fault(self, bucket: Bucket, exc: Exception) -> list[Record]:
        """A bucket whose clocks fail to evaluate: reported once until an input changes it, not
        at every tick."""
        if self._tick_faults.get(bucket.key) == bucket.seq:
            return []
        self._tick_faults[bucket.key] = bucket.seq
        body = f'{{"tick": "{bucket.key}"}}'.encode()
        return self.faults.poison(Topic.CLASSIFIED, "clocks", exc, body)

    # --- out ----------------------------------------------------------------------------------

    def _flush(self) -> list[Record]:
        """One table write per changed incident and key per batch, not per record."""
        out: list[Record] = []
        for key, bucket in self.pending.items():
            before = self.buckets.get(key)  # as last flushed
            for w in self.buckets.put(before, bucket, self._encoded):
                out.append(Record(CHANGELOG, w.key, w.value, w.partition))
        self.pending.clear()
        return out

    def _publish(self, res: Result) -> list[Record]:
        out: list[Record] = []
        for e in res.events:
            out.append(Record(Topic.EVENTS, e.incident_id.encode(), encoder.encode(e)))
        for n in res.notifications:
            out.append(Record(Topic.NOTIFICATIONS, n.incident_id.encode(), encoder.encode(n)))
        for s in res.changed.values():
            hit = self._encoded.get(s.id)
            raw = hit[1] if hit is not None and hit[0] is s else encode_state(s)
            out.append(Record(Topic.STATE, s.id.encode(), raw))
        for fwd in res.forward:  # after this bucket's own state is on its way
            out.append(Record(Topic.CLASSIFIED, fwd.key.encode(), encoder.encode(fwd)))
        self._encoded.clear()
        return out

    def _count(self, b: _Batch) -> None:
        # metrics move once per batch and kind: a labelled inc() per record cost more than
        # the send
        m = self.metrics
        for kind, n in b.inputs.items():
            m.inputs.labels(kind).inc(n)
        for kind, n in Counter(e.kind.value for e in b.result.events).items():
            m.events.labels(kind).inc(n)
        for step, n in Counter(i.step.value for i in b.result.notifications).items():
            m.notifications.labels(step).inc(n)
        if b.result.clamped:
            m.clamped.inc(b.result.clamped)
        decided = self.clock().timestamp()
        for taken in b.latencies:
            m.processing.observe(max(0.0, decided - taken))
        for e in b.result.events:
            if e.kind is EventKind.ASSIGNED:
                m.event_age.observe(max(0.0, decided - e.at.timestamp()))


def _moved_on(before: Bucket, after: Bucket) -> bool:
    """A tick changed what must be kept: the watermark, or which incidents the bucket holds."""
    return after.watermark != before.watermark or len(after.incidents) != len(before.incidents)


def _merge(into: Result, res: Result) -> None:
    into.events.extend(res.events)
    into.notifications.extend(res.notifications)
    into.changed.update(res.changed)  # the newest state of each incident in the batch
    into.forward.extend(res.forward)
    into.clamped += res.clamped
