"""Why a Faust agent on Tansu waited instead of working, and the fix.

Cause (measured, benchmarks/pipeline.py): Faust's aiokafka driver builds its consumer with a
hard-coded `fetch_max_wait_ms=1500` (faust/transport/drivers/aiokafka.py,
`AIOKafkaConsumerThread._create_worker_consumer`), and Tansu holds a fetch for the whole
`fetch_max_wait_ms` whenever the partitions had no new data when the request came in: new data
arriving meanwhile does not complete it (aiokafka, end of topic, one record produced later:
delivered after ~450 ms with 1500, ~77 ms with 500, ~5 ms with 50). aiokafka sends one fetch
per broker for all assigned partitions and sends the next only when that one returns, so a
consumer that has caught up with the log end -- any live stream, and every stage after the
first in a pipeline -- sits in up to 1.5 s waits with the CPU idle. A consumer reading a topic
that is already full never meets an empty fetch, which is why raw aiokafka on a pre-filled topic
(and the same test with 1500 ms) ran at full speed.

Effect (benchmarks/latency.py, 1,000 posts/s background, one worker): post arrival in
posts.raw → incident `opened`: Faust's defaults p50 895 ms, p99 1,528 ms; with this fix p50
45 ms, p99 70 ms. On a topic that is already full the agent never waits, and throughput is then
bound by CPU (Faust's per-record work, ~11-14k records/s for an agent that only counts).

Fix: `FastFetchApp` gives Faust a consumer with a short `fetch_max_wait_ms`
(`FETCH_MAX_WAIT_MS`). With Tansu answering empty fetches that fast, an idle worker sends more
fetch requests (tens per second); on Apache Kafka, which completes a waiting fetch as soon as
data arrives, the setting costs nothing either way.

Also measured and applied (streams/settings.py TUNED, streams/worker.py): producer linger 5 ms
(one produce request per changelog write otherwise: Table agent 3,100 → 4,950 msgs/s), and a
Worker without the terminal spinner (it sets the root logger to DEBUG, so every aiokafka
debug() call builds a LogRecord).

Where a plain agent's CPU went once it no longer waited (py-spy): Faust's fetcher hands each
message to the streams through `Service.wait_first(callback(message), suspend_flow.wait())`,
which makes four tasks and an `asyncio.wait` per message. `_FastFetchConsumer.wait_first` runs
the hand-over inline and falls back to Faust's path only when it would block (a full stream
buffer); measured 17,100 → 35,000 msgs/s for a plain agent, 11,500 for one that updates a Table.

Faust's Monitor sensor skips its per-message and per-event hooks (`QuietMonitor`, given to
Faust through its `Monitor` setting): they keep per-stream, per-partition counters for Faust's
own web views, which the worker does not serve (it exports its own Prometheus metrics,
monitor/metrics.py), and they cost ~13% of a plain agent's time (15,100 → 17,100 msgs/s,
benchmarks/pipeline.py). Its rebalance, commit and end-offset hooks stay.

Private methods overridden here, so the versions are pinned (`PATCHED`, and exactly so in
pyproject.toml), and tests/unit/test_stream_tuning.py checks both the pins and that each patch
takes effect: `AIOKafkaConsumerThread._create_worker_consumer` and `AIOKafkaConsumer`'s
`_fetch_max_wait_ms` (read by its `start()`), `Consumer._new_consumer_thread`,
`App._new_transport`, and mode's `Service.wait_first`, called by Faust's fetcher. The Monitor
hooks are Faust's public sensor API.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine, Generator
from typing import Any, ClassVar

import faust
from faust.sensors import Monitor
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, EventT, Message, StreamT
from mode.services import WaitResults

FETCH_MAX_WAIT_MS = 20
# The versions whose private methods this module overrides (pyproject.toml pins the same).
PATCHED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}


class _FastFetchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its Fetcher, so setting it here,
        # before start, is the same as passing it to the constructor.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _FastFetchConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _FastFetchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        """Faust's fetcher hands every message to the streams through
        `wait_first(callback(message), suspend_flow.wait())`, so that a hand-over blocked on a
        full stream buffer gives up when a rebalance suspends the flow. Service.wait_first
        makes four tasks and an asyncio.wait for that, per message. Almost every hand-over
        finishes without ever blocking, so run it inline first: if it finishes, no rebalance
        can have happened meanwhile and the result is the same; if it blocks, Faust's
        wait_first takes over the started coroutine."""
        inline = (
            timeout is None
            and len(coros) == 2
            and all(inspect.iscoroutine(c) for c in coros)
            and not (self.should_stop or self.suspend_flow.is_set())
        )
        if not inline:
            return await super().wait_first(*coros, timeout=timeout)
        first, other = coros
        try:
            blocked_on = first.send(None)
        except StopIteration as done:
            other.close()
            # Let the streams take it now, as they could while Faust's wait ran: a fetcher
            # that never yields fills the stream buffer, and Faust then pauses the partition.
            await asyncio.sleep(0)
            return WaitResults([first], [done.value], False)
        except BaseException:
            other.close()
            raise
        return await super().wait_first(_Started(first, blocked_on), other)


class _Started:
    """A coroutine already run up to its first suspension, awaitable again from there: what
    `yield from` does for a coroutine it did not start itself."""

    def __init__(self, coro: Coroutine[Any, Any, Any], blocked_on: Any) -> None:
        self.coro = coro
        self.blocked_on = blocked_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending = self.coro, self.blocked_on
        while True:
            try:
                value = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation included: pass it in
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(value)
                except StopIteration as stop:
                    return stop.value


class _FastFetchTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = _FastFetchConsumer


class QuietMonitor(Monitor):
    """Faust's Monitor without its bookkeeping for every message and stream event."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict[str, Any] | None:
        return None

    def on_stream_event_out(
        self,
        tp: TP,
        offset: int,
        stream: StreamT,
        event: EventT,
        state: dict[str, Any] | None = None,
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None


class FastFetchApp(faust.App):
    """faust.App whose Kafka consumer waits at most FETCH_MAX_WAIT_MS per empty fetch, and
    whose Monitor sensor skips its per-event hooks."""

    def _new_transport(self) -> Any:
        url = self.conf.broker_consumer[0]
        if drivers.by_url(url) is not faust_aiokafka.Transport:
            return super()._new_transport()
        return _FastFetchTransport(self.conf.broker_consumer, self)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("Monitor", QuietMonitor)
        super().__init__(*args, **kwargs)
