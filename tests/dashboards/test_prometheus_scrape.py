"""End to end: a real Prometheus (Debian `prometheus`) scrapes a real HTTP server on 127.0.0.1
that serves the worker's registry (monitor/metrics.py), loads rules.yml, and answers queries
through its HTTP API: the counts come back, and a breach fires DeadlineBreached."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import start_http_server

from monitor.metrics import Metrics
from tests.dashboards.conftest import PROM_DIR

DEADLINE_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after DEADLINE_S."""
    end = time.monotonic() + DEADLINE_S
    last: Any = None
    while time.monotonic() < end:
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; last answer: {last!r}")


@pytest.fixture
def worker_metrics() -> Iterator[tuple[Metrics, int]]:
    metrics = Metrics.create()
    metrics.posts_in.inc(7)
    metrics.events.labels("opened").inc(3)
    metrics.events.labels("deadline_breached").inc(2)
    metrics.dead_letters.labels("posts.raw", "bad post").inc()
    metrics.processing.observe(0.2)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    yield metrics, port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def prometheus(
    prometheus_bin: str, worker_metrics: tuple[Metrics, int], tmp_path: Path
) -> Iterator[str]:
    _, target = worker_metrics
    shutil.copy(PROM_DIR / "rules.yml", tmp_path / "rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{target}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prometheus_bin, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=2).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


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
