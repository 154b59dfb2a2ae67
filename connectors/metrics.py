"""Prometheus metrics per source. The registry is passed in (a fresh one per test)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class ConnectorMetrics:
    posts: Counter
    duplicates: Counter
    errors: Counter
    dead_letters: Counter
    polls: Counter
    up: Gauge
    last_success: Gauge
    poll_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry, prefix: str = "connector") -> ConnectorMetrics:
        return cls(
            posts=Counter(
                f"{prefix}_posts", "Posts handed to the sink", ["source"], registry=registry
            ),
            duplicates=Counter(
                f"{prefix}_duplicates",
                "Posts dropped as already sent",
                ["source"],
                registry=registry,
            ),
            errors=Counter(
                f"{prefix}_errors", "Failed polls by kind", ["source", "kind"], registry=registry
            ),
            dead_letters=Counter(
                f"{prefix}_dead_letters",
                "Records sent to the dead-letter log",
                ["source", "reason"],
                registry=registry,
            ),
            polls=Counter(f"{prefix}_polls", "Poll attempts", ["source"], registry=registry),
            up=Gauge(f"{prefix}_up", "1 if the last poll succeeded", ["source"], registry=registry),
            last_success=Gauge(
                f"{prefix}_last_success_timestamp_seconds",
                "Unix time of the last successful poll",
                ["source"],
                registry=registry,
            ),
            # Polls take well under a minute; the edges follow the HTTP timeouts in use.
            poll_seconds=Histogram(
                f"{prefix}_poll_seconds",
                "Time for one poll",
                ["source"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60),
                registry=registry,
            ),
        )
