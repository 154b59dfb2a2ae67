"""`monitor check-config` on every bad sample (one per rule, Alertmanager's config/testdata
style): it prints the file and line of each error with its path and reason, and exits 1.

main said OK to `release: {after: 5 hours}` and the worker then failed at start with no line;
the `escalation` and `contacts` sections were read by nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.cli.main import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))


def expected(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# expect: ")


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_check_config_prints_the_line_and_exits_1(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    want = expected(path)
    line = next((ln for ln in err.splitlines() if want in ln), None)
    assert line is not None, f"{want!r} not in:\n{err}"
    assert re.match(r"^\S+\.yaml:\d+: ", line), f"no file:line in {line!r}"


def test_the_shipped_config_passes_and_names_its_escalation_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitor.config import DEFAULT_CONFIG

    assert main(["check-config", str(DEFAULT_CONFIG)]) == 0
    assert "ziyang_escalation.yaml" in capsys.readouterr().out
