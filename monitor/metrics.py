"""Prometheus metrics of the worker. The registry is passed in (a fresh one per test), as in
faust's sensors/prometheus.py, so two workers in one test process never share counters."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds from a post's arrival to its events: sub-second is the goal, minutes means trouble.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


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
    watermark: Gauge
    incidents_live: Gauge
    processing: Histogram

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
            watermark=Gauge(
                f"{p}_watermark_seconds", "Newest clock watermark (unix seconds)", registry=reg
            ),
            incidents_live=Gauge(
                f"{p}_incidents_live", "Live incidents held by this worker (at the last tick)",
                registry=reg,
            ),
            processing=Histogram(
                f"{p}_post_to_event_seconds",
                "From a classified post's record in posts.classified to its events being sent",
                buckets=LATENCY_BUCKETS, registry=reg,
            ),
        )
