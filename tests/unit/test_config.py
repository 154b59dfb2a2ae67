from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import ConfigError, default_config, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))
GOOD = sorted((CONFIGS / "good").glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def test_default_config_is_ziyang_with_all_towns() -> None:
    cfg = default_config()
    j = cfg.jurisdiction
    assert j.name == "资阳市" and j.code == "5120"
    names = [c.name for c in j.counties]
    assert names == ["雁江区", "安岳县", "乐至县", "资阳高新区", "资阳临空经济区"]
    towns = [t for c in j.counties for t in c.towns]
    assert len(towns) == 90
    assert all(t.code and len(t.code) == 9 for t in towns)
    by_county = {c.name: len(c.towns) for c in j.counties}
    assert by_county == {"雁江区": 23, "安岳县": 46, "乐至县": 21, "资阳高新区": 0, "资阳临空经济区": 0}
    legacy = {t.name: t.now for c in j.counties for t in c.legacy_towns}
    assert legacy["石桥铺镇"] == "石桥街道"
    assert legacy["忠义镇"] is None  # an old 雁江区 name; today's 忠义镇 is in 安岳县


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_configs_load(path: Path) -> None:
    load_config(path)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_configs_are_rejected_with_path_line_and_reason(path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    issues = info.value.issues
    want = expected(path)
    assert any(want in str(i) for i in issues), f"{want!r} not in {[str(i) for i in issues]}"
    for issue in issues:
        # an escalation or triggers file the city names reports its own file and line
        assert issue.file == str(path) or "/ladders/" in issue.file or "/triggers/" in issue.file
        assert issue.line is not None and issue.line > 1  # line 1 is the expectation comment


def test_check_config_command_exit_codes_and_messages() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(GOOD[0])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    bad = CONFIGS / "bad" / "threshold_out_of_order.yaml"
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 1
    assert f"{bad}:" in out.stderr and "out of order" in out.stderr


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = (CONFIGS / "good" / "minimal_city.yaml").read_text(encoding="utf-8")
    text = text.replace("II: {deaths: 10,", "II: {deaths: 40,").replace(
        "    with: [市应急管理局]", "    with: [不存在的局]"
    )
    path = tmp_path / "two_errors.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    paths = {i.path for i in info.value.issues}
    assert {"grading.thresholds.II.deaths", "categories.fire.with[0]"} <= paths


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml")


def test_duplicate_key_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("version: 1\nversion: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup.yaml:2: version: duplicate key"):
        load_config(path)
