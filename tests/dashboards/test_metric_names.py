"""Every metric a dashboard panel or a rule asks for is one the code defines. Names come from
the real registries (created in-process) and from parsing each PromQL expression, so a renamed
metric or a typo in a panel fails here instead of showing an empty graph to duty staff."""

from __future__ import annotations

import json
from collections.abc import Iterator

import promql_parser
import pytest

from tests.dashboards.conftest import GRAFANA_DIR, code_registry, exposed_names, rule_groups

# Grafana fills these in before Prometheus sees the query; any valid duration parses the same.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SCRAPE_SERIES = {"up"}  # written by Prometheus itself for every target


def selectors(expr: str) -> set[str]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def panel_exprs() -> Iterator[tuple[str, str]]:
    for path in sorted(GRAFANA_DIR.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel.get("targets") or []:
                yield f"{path.name}: {panel['title']}", target["expr"]


def rule_exprs() -> Iterator[tuple[str, str]]:
    for group in rule_groups():
        for rule in group["rules"]:
            yield f"rules.yml: {rule.get('alert') or rule.get('record')}", rule["expr"]


def recorded_names() -> set[str]:
    return {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}


def known_names() -> set[str]:
    return exposed_names(code_registry()) | recorded_names() | SCRAPE_SERIES


def test_the_code_defines_the_metrics_the_brief_names() -> None:
    names = exposed_names(code_registry())
    for name in (
        "monitor_posts_total", "monitor_events_total", "monitor_dead_letters_total",
        "monitor_watermark_seconds", "monitor_post_to_event_seconds_bucket",
        "connector_up", "connector_errors_total", "yuqing_notify_failed_total",
    ):  # fmt: skip
        assert name in names


def test_selectors_are_read_from_the_parse_tree() -> None:
    expr = 'histogram_quantile(0.99, sum by (le) (rate(a_bucket[$__rate_interval]))) > 1 or up{job="x"} == 0'
    assert selectors(expr) == {"a_bucket", "up"}


def test_an_unknown_metric_is_caught() -> None:
    assert selectors("sum(rate(monitor_post_total[5m]))") - known_names() == {"monitor_post_total"}


@pytest.mark.parametrize("where, expr", list(panel_exprs()) + list(rule_exprs()))
def test_every_queried_metric_exists_in_the_code(where: str, expr: str) -> None:
    unknown = selectors(expr) - known_names()
    assert not unknown, f"{where}: no such metric in the code: {sorted(unknown)}"


def test_every_panel_queries_something() -> None:
    boards = list(GRAFANA_DIR.glob("*.json"))
    assert len(boards) == 5  # duty, sources, notify, departments, leaders
    for path in boards:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel.get("targets"), f"{path.name}: {panel['title']} has no query"
