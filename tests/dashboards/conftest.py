"""Shared helpers for the dashboards tests: paths, the metric names the code defines, and the
Prometheus programs (Debian `prometheus`). A missing program skips, except under CI=true, where
a skip would hide a broken environment, so it fails instead."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from connectors.metrics import ConnectorMetrics
from monitor.metrics import Metrics
from monitor.notify.delivery import NotifyMetrics
from monitor.reports.metrics import ComplianceMetrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
PROM_DIR = DASHBOARDS / "prometheus"
GRAFANA_DIR = DASHBOARDS / "grafana"
IN_CI = os.environ.get("CI", "").lower() == "true"

# The names a scrape exposes for each collector type (prometheus_client text format).
EXPOSED_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason} (scripts/install-system-deps.sh installs it)")
    pytest.skip(reason)


def program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"{name} is not on PATH (Debian package prometheus)")
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
