"""promtool proves the Prometheus side: both scrape configs and the rules are valid, and the
alert rules behave as rules_test.yml says (input series → expected alerts, in Chinese)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dashboards.conftest import PROM_DIR


def promtool_run(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-compose.yml"])
def test_check_config(promtool: str, config: str) -> None:
    done = promtool_run(promtool, "check", "config", str(PROM_DIR / config))
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_rules(promtool: str) -> None:
    done = promtool_run(promtool, "check", "rules", str(PROM_DIR / "rules.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    done = promtool_run(promtool, "test", "rules", str(PROM_DIR / "rules_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rule_unit_tests_catch_a_changed_threshold(promtool: str, tmp_path: Path) -> None:
    """The unit tests are not vacuous: a 1 s latency objective moved to 5 s makes them fail."""
    shutil.copy(PROM_DIR / "rules_test.yml", tmp_path)
    rules = (PROM_DIR / "rules.yml").read_text(encoding="utf-8")
    old = "[5m]))) > 1\n"
    assert old in rules
    (tmp_path / "rules.yml").write_text(rules.replace(old, "[5m]))) > 5\n"))
    done = promtool_run(promtool, "test", "rules", str(tmp_path / "rules_test.yml"))
    assert done.returncode != 0
    assert "ProcessingLatencyHigh" in done.stdout + done.stderr
