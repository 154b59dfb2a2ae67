"""Shared helpers for the dashboards tests: paths, the metric names the code defines, the
Prometheus programs (Debian `prometheus`), and a real Prometheus scraping a registry served on
127.0.0.1. A missing program skips, except under CI=true, where it fails (tests/conftest.py's
skip_or_fail)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server

from connectors.metrics import ConnectorMetrics
from monitor.metrics import Metrics
from monitor.notify.delivery import NotifyMetrics
from monitor.reports.metrics import ComplianceMetrics
from monitor.runtime.broker import free_port
from tests.conftest import ROOT, skip_or_fail

__all__ = ["ROOT", "skip_or_fail"]

DASHBOARDS = ROOT / "dashboards"
PROM_DIR = DASHBOARDS / "prometheus"
GRAFANA_DIR = DASHBOARDS / "grafana"
DEADLINE_S = 20.0

# The names a scrape exposes for each collector type (prometheus_client text format).
EXPOSED_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not on PATH (Debian package prometheus: "
                     "scripts/install-system-deps.sh installs it)")  # fmt: skip
        raise AssertionError("unreachable")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return program("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return program("prometheus")


def code_registry() -> CollectorRegistry:
    """One registry holding every metric the worker, the connectors and the notifier define."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    ConnectorMetrics.create(registry)
    NotifyMetrics(registry)
    # the web process's compliance families (names and types are there with no incidents)
    registry.register(ComplianceMetrics(lambda: ([], {}), lambda: datetime.now(UTC), ()))
    return registry


def exposed_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        suffixes = EXPOSED_SUFFIXES[family.type]
        names.update(family.name + suffix for suffix in suffixes)
    return names


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def rule_groups() -> list[dict[str, Any]]:
    return list(load_yaml(PROM_DIR / "rules.yml")["groups"])


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    """Poll `probe` until it returns something truthy and return that; fail naming `what` after
    DEADLINE_S. An HTTP error counts as a falsy answer: Prometheus may not be listening yet."""
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


def query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=2).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


@contextlib.contextmanager
def serving_registry(registry: CollectorRegistry) -> Iterator[int]:
    """`registry` exposed over HTTP on 127.0.0.1, as a process's /metrics; yields the port."""
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def running_prometheus(
    prometheus_bin: str, directory: Path, job: str, target: int, rules: Path | None = None
) -> Iterator[str]:
    """A real Prometheus scraping 127.0.0.1:`target` as `job` every second (and evaluating
    `rules`, if given, as often), its config, data and log in `directory`; yields its base URL.
    It may not be ready yet: wait on /-/ready."""
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{target}"]}]}
        ],
    }
    if rules is not None:
        shutil.copy(rules, directory / "rules.yml")
        config["rule_files"] = ["rules.yml"]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prometheus_bin, f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
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
