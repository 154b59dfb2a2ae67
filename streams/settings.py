"""One frozen settings object for a worker: broker, topic prefix, partitions, clock mode and
batching. The city config and the store are handed to `streams.bootstrap` beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.topics import Topic, topic

# Faust settings that lift throughput on Tansu; see streams/tuning.py for why each is here.
TUNED: dict[str, Any] = {
    # Linger 5 ms so outputs and changelog writes go out in batches instead of one produce
    # request per record (measured: Table updates 2,100 → 4,900 msgs/s on Tansu).
    "producer_linger": 0.005,
    "producer_max_batch_size": 256 * 1024,
    # No standby replicas: on one machine they double the changelog reading for nothing.
    "table_standby_replicas": 0,
}


@dataclass(frozen=True)
class StreamSettings:
    broker: str  # kafka://host:port
    app_id: str = "monitor"
    prefix: str = ""  # prepended to every topic name; tests use a unique one each
    partitions: int = 4
    live: bool = False  # tick the clocks on wall time too (else only on event time)
    tick_interval: float = 1.0
    tuned: bool = True
    batch: int = 500  # records the incident agent takes at once (within batch_within seconds)
    # 0.1 s, not 0.02: a worker with a backlog got ~200-record batches, and the changelog write
    # of a whole bucket per batch plus the wait made 0.02 s ~25% slower end to end; the
    # detection-latency goal is p99 <= 1 s.
    batch_within: float = 0.1
    # Tansu answers a JoinGroup only when the rebalance timeout ends, so this is also the
    # start-up delay; it is also how soon a surviving worker takes over a killed one's work.
    session_timeout: float = 6.0

    def topic(self, name: Topic) -> str:
        return topic(name, self.prefix)

    @property
    def faust_id(self) -> str:
        return f"{self.prefix}{self.app_id}"
