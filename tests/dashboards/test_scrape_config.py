"""The scrape configs agree with the code and the rules: the embedded targets are the ports the
commands serve by default, and every scrape job is watched by MonitorDown."""

from __future__ import annotations

import re
from typing import Any

import promql_parser
import pytest

from monitor.cli.main import build_parser
from tests.dashboards.conftest import PROM_DIR, load_yaml, rule_groups


def jobs(config: str) -> dict[str, dict[str, Any]]:
    data = load_yaml(PROM_DIR / config)
    return {job["job_name"]: job for job in data["scrape_configs"]}


def monitor_down_job_pattern() -> str:
    (rule,) = [r for g in rule_groups() for r in g["rules"] if r.get("alert") == "MonitorDown"]
    found: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name == "up":
            found.extend(m.value for m in node.matchers.matchers if m.name == "job")

    promql_parser.walk(promql_parser.parse(rule["expr"]), pre_visit=visit)
    (pattern,) = found
    return pattern


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_every_scrape_job_is_watched_by_monitor_down(config: str) -> None:
    pattern = monitor_down_job_pattern()
    for name in jobs(config):
        # Prometheus anchors label regexes at both ends
        assert re.fullmatch(pattern, name), f"{config}: job {name} is not in MonitorDown"


def test_embedded_monitor_target_is_the_default_run_port() -> None:
    (target,) = jobs("prometheus.yml")["monitor"]["static_configs"][0]["targets"]
    default_port = build_parser().parse_args(["run"]).port
    assert target == f"127.0.0.1:{default_port}"


def test_embedded_worker_target_is_the_default_worker_port() -> None:
    (target,) = jobs("prometheus.yml")["worker"]["static_configs"][0]["targets"]
    args = build_parser().parse_args(["run"])
    assert target == f"127.0.0.1:{args.worker_port}" and args.worker_port != args.port


def test_embedded_sources_target_is_local() -> None:
    (target,) = jobs("prometheus.yml")["sources"]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "127.0.0.1" and port.isdigit()
    args = build_parser().parse_args(["sources", "run", "--sources", "s.yaml", "--port", port])
    assert args.host == host  # the runner's default host is where Prometheus looks
