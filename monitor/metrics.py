"""Prometheus metrics of the worker. The registry is passed in (a fresh one per test), as in
faust's sensors/prometheus.py, so two workers in one test process never share counters."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds from a post's arrival to its events: sub-second is the goal, minutes means trouble.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Seconds from a post's own time to its decision: how late sources deliver, and replays.
AGE_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 3 * 3600.0, 5 * 3600.0, 24 * 3600.0, 72 * 3600.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    posts_in: Counter
    posts_ignored: Counter
    inputs: Counter
    events: Counter
    notifications: Counter
    dead_letters: Counter
    store_writes: Counter
    poison: Counter
    oversized: Counter
    clamped: Counter
    watermark: Gauge
    incidents_live: Gauge
    processing: Histogram
    event_age: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None, prefix: str = "monitor") -> Metrics:
        reg = registry if registry is not None else CollectorRegistry()
        p = prefix
        return cls(
            registry=reg,
            posts_in=Counter(f"{p}_posts_total", "Posts read from posts.raw", registry=reg),
            posts_ignored=Counter(
                f"{p}_posts_ignored_total", "Posts classified as no incident", registry=reg
            ),
            inputs=Counter(
                f"{p}_inputs_total", "Records handled by the incident agent", ["kind"],
                registry=reg,
            ),
            events=Counter(f"{p}_events_total", "incident.events emitted", ["kind"], registry=reg),
            notifications=Counter(
                f"{p}_notifications_total", "Notification intents emitted", ["step"], registry=reg
            ),
            dead_letters=Counter(
                f"{p}_dead_letters_total", "Records refused and sent to dlq", ["topic", "reason"],
                registry=reg,
            ),
            store_writes=Counter(
                f"{p}_store_rows_total", "Rows written to the store", ["table"], registry=reg
            ),
            poison=Counter(
                f"{p}_poison_records_total",
                "Records whose handling raised an unexpected error (dead-lettered; duty told)",
                ["stage"], registry=reg,
            ),
            oversized=Counter(
                f"{p}_records_too_large_total",
                "Records over the size limit, replaced by a dead letter", ["topic"],
                registry=reg,
            ),
            clamped=Counter(
                f"{p}_post_time_clamped_total",
                "Posts dated later than their arrival plus the allowed skew (time clamped)",
                registry=reg,
            ),
            watermark=Gauge(
                f"{p}_watermark_seconds", "Newest clock watermark (unix seconds)", registry=reg
            ),
            incidents_live=Gauge(
                f"{p}_incidents_live", "Live incidents held by this worker (at the last tick)",
                registry=reg,
            ),
            processing=Histogram(
                f"{p}_post_to_event_seconds",
                "Processing latency: from the worker taking a post off posts.raw to its "
                "incident decision (replayed posts are not counted)",
                buckets=LATENCY_BUCKETS, registry=reg,
            ),
            event_age=Histogram(
                f"{p}_post_event_age_seconds",
                "From a post's own (bounded) time to its incident decision",
                buckets=AGE_BUCKETS, registry=reg,
            ),
        )
