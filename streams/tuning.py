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
"""

from __future__ import annotations

from typing import Any, ClassVar

import faust
from faust.transport import drivers
from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS = 20


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


class _FastFetchTransport(faust_aiokafka.Transport):
    Consumer: ClassVar[Any] = _FastFetchConsumer


class FastFetchApp(faust.App):
    """faust.App whose Kafka consumer waits at most FETCH_MAX_WAIT_MS per empty fetch."""

    def _new_transport(self) -> Any:
        url = self.conf.broker_consumer[0]
        if drivers.by_url(url) is not faust_aiokafka.Transport:
            return super()._new_transport()
        return _FastFetchTransport(self.conf.broker_consumer, self)
