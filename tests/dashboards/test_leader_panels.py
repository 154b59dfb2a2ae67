"""部门响应 and 领导驾驶舱 against a real Prometheus (Debian `prometheus`): it scrapes a real HTTP
server on 127.0.0.1 serving the web process's compliance collector over the fixture log
(tests/reports/fixture.py, 60 days in), and every panel's PromQL of both dashboards is run
through its HTTP API: each answers, with data, and the figures are the report's."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from monitor.domain.events import EventKind
from monitor.reports.metrics import ComplianceMetrics
from tests.dashboards.conftest import (
    GRAFANA_DIR,
    query,
    running_prometheus,
    serving_registry,
    wait_for,
)
from tests.dashboards.test_metric_names import GRAFANA_VARIABLES
from tests.reports.fixture import T0, build

NOW = T0 + timedelta(days=60)
BOARDS = ("yuqing-departments.json", "yuqing-leaders.json")
BODIES = ("市应急管理局", "市消防救援支队", "安岳县人民政府", "雁江区人民政府", "乐至县人民政府",
          "市公安局交通警察支队", "市卫生健康委员会", "市生态环境局", "市住房和城乡建设局")  # fmt: skip


def panel_targets() -> list[tuple[str, str]]:
    out = []
    for name in BOARDS:
        board = json.loads((GRAFANA_DIR / name).read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel.get("targets") or []:
                out.append((f"{name}: {panel['title']}", target["expr"]))
    return out


@pytest.fixture(scope="module")
def prometheus(prometheus_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    built = build(until=60 * 24)
    breaches: dict[str, list[Any]] = {}
    for e in built.events:
        if e.kind is EventKind.DEADLINE_BREACHED:
            breaches.setdefault(e.incident_id, []).append(e)
    registry = CollectorRegistry()
    states = list(built.states.values())
    registry.register(ComplianceMetrics(lambda: (states, breaches), lambda: NOW, BODIES))
    tmp: Path = tmp_path_factory.mktemp("prom")
    try:
        with (
            serving_registry(registry) as target,
            running_prometheus(prometheus_bin, tmp, "web", target) as base,
        ):
            wait_for("Prometheus", lambda: httpx.get(f"{base}/-/ready", timeout=2).is_success)
            wait_for("the compliance series", lambda: query(base, "monitor_compliance_ratio"))
            yield base
    finally:
        shutil.rmtree(tmp / "data", ignore_errors=True)


@pytest.mark.parametrize(("where", "expr"), panel_targets())
def test_every_panel_answers_with_data(prometheus: str, where: str, expr: str) -> None:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert query(prometheus, expr), f"{where}: no data for {expr}"


def value(base: str, expr: str) -> dict[str, float]:
    return {
        json.dumps(r["metric"], ensure_ascii=False, sort_keys=True): float(r["value"][1])
        for r in query(base, expr)
    }


def test_the_figures_are_the_reports(prometheus: str) -> None:
    # 30 days before NOW: A B C J run the 5 h clock; A and J met it (see tests/reports)
    city = query(prometheus, 'monitor_compliance_ratio{window="30d", rule="release", body="全市"}')
    assert float(city[0]["value"][1]) == 0.5
    emergency = query(prometheus, 'monitor_compliance_ratio{window="30d", rule="release", '
                                  'body="市应急管理局"}')  # fmt: skip
    assert float(emergency[0]["value"][1]) == 0.0
    # release medians by hand: A 3 h, J 4 h, B 6 h, D 30 h; the bucket edges hold them
    le5h = query(prometheus, 'monitor_response_seconds_bucket{window="30d", step="release", '
                             'body="全市", le="18000"}')  # fmt: skip
    assert float(le5h[0]["value"][1]) == 2
    breaches = value(prometheus, 'sum by (body) (monitor_compliance_breaches{window="30d", '
                                 'body="市应急管理局"})')  # fmt: skip
    assert list(breaches.values()) == [2.0]
    open_ii = query(prometheus, 'monitor_open_incidents{grade="II"}')
    assert float(open_ii[0]["value"][1]) == 1  # J
