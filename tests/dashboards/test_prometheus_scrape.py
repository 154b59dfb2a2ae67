"""End to end: a real Prometheus (Debian `prometheus`) scrapes a real HTTP server on 127.0.0.1
that serves the worker's registry (monitor/metrics.py), loads rules.yml, and answers queries
through its HTTP API: the counts come back, and a breach fires DeadlineBreached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.metrics import Metrics
from tests.dashboards.conftest import (
    PROM_DIR,
    query,
    running_prometheus,
    serving_registry,
    wait_for,
)


@pytest.fixture
def worker_metrics() -> Iterator[tuple[Metrics, int]]:
    metrics = Metrics.create()
    metrics.posts_in.inc(7)
    metrics.events.labels("opened").inc(3)
    metrics.events.labels("deadline_breached").inc(2)
    metrics.dead_letters.labels("posts.raw", "bad post").inc()
    metrics.processing.observe(0.2)
    with serving_registry(metrics.registry) as port:
        yield metrics, port


@pytest.fixture
def prometheus(
    prometheus_bin: str, worker_metrics: tuple[Metrics, int], tmp_path: Path
) -> Iterator[str]:
    _, target = worker_metrics
    with running_prometheus(
        prometheus_bin, tmp_path, "worker", target, rules=PROM_DIR / "rules.yml"
    ) as base:
        yield base


def test_prometheus_scrapes_the_worker_registry_and_fires_a_breach(prometheus: str) -> None:
    def target_up() -> bool:
        data = httpx.get(f"{prometheus}/api/v1/targets", timeout=2).json()["data"]
        return any(t["health"] == "up" for t in data["activeTargets"])

    wait_for(
        "Prometheus to start", lambda: httpx.get(f"{prometheus}/-/ready", timeout=2).is_success
    )
    wait_for("the worker target to be up", target_up)

    posts = wait_for("monitor_posts_total", lambda: query(prometheus, "monitor_posts_total"))
    assert float(posts[0]["value"][1]) == 7.0
    breached = query(prometheus, 'monitor_events_total{kind="deadline_breached"}')
    assert [float(r["value"][1]) for r in breached] == [2.0]
    assert (
        query(prometheus, 'monitor_dead_letters_total{topic="posts.raw"}')[0]["metric"]["reason"]
        == "bad post"
    )

    def firing() -> list[dict[str, Any]]:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "DeadlineBreached" and a["state"] == "firing"
        ]

    (alert,) = wait_for("DeadlineBreached to fire", firing)
    assert alert["annotations"]["summary"] == "舆情事件回应时限已超"
