"""`monitor report` and monitor.domain.compliance against a fixture audit log (tests/reports/
fixture.py): every expected figure is worked out here by hand from the fixture's timings, not
by the code under test. The HTML report is opened in headless Chromium and a screenshot saved
under test-artifacts/reports/."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.store import Store
from tests.conftest import ROOT, chromium, screenshot
from tests.reports.fixture import SPECS, build, write

H = 3600.0
SPEC = {s.name: s for s in SPECS}
ARTIFACTS = ROOT / "test-artifacts" / "reports"


def answer(name: str, kind: str) -> float:
    """Hours from the spec's first post to its answer of this kind (the fixture's data)."""
    return next(h for k, h in SPEC[name].acts if k == kind)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report") / "data"
    d.mkdir()
    store = Store(f"sqlite:///{d / 'monitor.db'}")
    write(store, build())
    store.close()
    return d


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "report", "--data-dir", str(data),
                           *args], capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def october(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("json") / "r.json"
    done = run(data, "--month", "2026-10", "--format", "json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "不计入：已并入他案 1 起，辖区外 1 起" in done.stdout
    return json.loads(out.read_text("utf-8"))


def nearest_rank_p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def test_totals_equal_the_figures_worked_out_by_hand(october: dict[str, Any]) -> None:
    t = october["total"]["current"]
    # counted in October: A B C D E J; F was merged into A, G lies in 成都
    assert t["incidents"] == 6
    assert t["by_grade"] == {"I": 1, "II": 3, "III": 1, "IV": 1}
    assert october["excluded"] == {"merged": 1, "out_of_area": 1}
    # acknowledged (first answer of any kind): C 10 min, A 20, B 50, J 60, D 120; E never
    acks = [answer(n, "acknowledge") * H for n in "ABCDJ"]
    assert t["acknowledge"]["count"] == 5
    assert t["acknowledge"]["median_s"] == pytest.approx(sorted(acks)[2])
    assert t["acknowledge"]["p90_s"] == pytest.approx(nearest_rank_p90(acks)) == 2 * H
    # first release: A 3 h, J 4 h, B 6 h, D 30 h → median (4+6)/2 h, p90 the 4th of 4
    rel = [answer(n, "release") * H for n in "ABDJ"]
    assert t["release"]["median_s"] == pytest.approx((4 + 6) / 2 * H)
    assert t["release"]["p90_s"] == pytest.approx(max(rel))
    press = [answer(n, "press_conference") * H for n in "ABC"]
    assert t["press_conference"]["median_s"] == pytest.approx(sorted(press)[1])
    assert t["press_conference"]["p90_s"] == pytest.approx(max(press))


def test_compliance_rates_by_hand(october: dict[str, Any]) -> None:
    rates = october["total"]["current"]["rates"]
    # 5 h release (I/II: A B C J): A 3 h and J 4 h met; B 6 h late; C answered only by its
    # press conference at 23 h, after the breach: late
    met5 = [n for n in "ABCJ" if min(h for k, h in SPEC[n].acts
                                     if k in ("release", "press_conference")) <= 5]  # fmt: skip
    assert rates["release"]["met"] == len(met5) == 2
    assert rates["release"]["decided"] == 4 and rates["release"]["rate"] == pytest.approx(0.5)
    # 24 h press conference: A 20 h, C 23 h met; B 29 h late; J still running (pending)
    assert (rates["press_conference"]["met"], rates["press_conference"]["late"]) == (2, 1)
    assert rates["press_conference"]["pending"] == 1
    assert rates["press_conference"]["rate"] == pytest.approx(2 / 3)
    # 48 h answer (III/IV: D E): D released at 30 h; E never answered and was closed at 60 h
    assert (rates["answer"]["met"], rates["answer"]["breached"]) == (1, 1)
    assert rates["answer"]["rate"] == pytest.approx(0.5)
    assert rates["release"]["title"] == "5小时内权威信息发布"


def test_each_breach_with_how_late(october: dict[str, Any], data: Path) -> None:
    got = {(b["incident_id"][-4:], b["rule"]): b["late_s"] / H for b in october["breaches"]}
    ids = {s.name: i[-4:] for s, i in zip(SPECS, _ids(data), strict=True)}
    assert got == {
        (ids["B"], "release"): answer("B", "release") - 5,  # 1 h
        (ids["B"], "press_conference"): answer("B", "press_conference") - 24,  # 5 h
        (ids["C"], "release"): answer("C", "press_conference") - 5,  # 18 h
        (ids["E"], "answer"): SPEC["E"].close - 48,  # closed unanswered: 12 h  # type: ignore[operator]
    }
    assert october["total"]["current"]["breaches"] == 4
    assert all(not b["open"] for b in october["breaches"])


def _ids(data: Path) -> list[str]:
    store = Store(f"sqlite:///{data / 'monitor.db'}")
    try:
        by_post = {r.state.post_ids[0]: r.id for r in store.incidents() if r.state.post_ids}
    finally:
        store.close()
    return [by_post[f"post-{s.name}"] for s in SPECS]


def test_per_department_and_county_and_previous_period(october: dict[str, Any]) -> None:
    deps = {g["name"]: g for g in october["departments"]}
    # 安岳县人民政府 co-answers A (release met) and C (late); 市应急管理局 leads B (late)
    anyue = deps["安岳县人民政府"]["current"]
    assert anyue["incidents"] == 2 and anyue["rates"]["release"]["rate"] == pytest.approx(0.5)
    assert deps["市应急管理局"]["current"]["rates"]["release"]["rate"] == 0
    assert deps["市应急管理局"]["current"]["breaches"] == 2
    # 市消防救援支队: A in October; H in September (met), the previous period
    fire = deps["市消防救援支队"]
    assert fire["current"]["incidents"] == 1 and fire["previous"]["incidents"] == 1
    assert fire["previous"]["release"]["median_s"] == pytest.approx(answer("H", "release") * H)
    counties = {g["name"]: g["current"]["incidents"] for g in october["counties"]}
    assert counties == {"安岳县": 2, "雁江区": 2, "乐至县": 2}
    assert october["total"]["previous"]["incidents"] == 1
    assert october["previous_period"]["end"] == october["period"]["start"]


def test_one_body_sees_only_its_incidents(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    done = run(data, "--from", "2026-10-01", "--to", "2026-10-31", "--body", "市应急管理局",
               "--format", "json", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    r = json.loads(out.read_text("utf-8"))
    assert r["total"]["current"]["incidents"] == 1
    assert [g["name"] for g in r["departments"]] == ["市应急管理局"]
    assert {b["rule"] for b in r["breaches"]} == {"release", "press_conference"}


def test_csv_holds_the_same_figures(data: Path, tmp_path: Path, october: dict[str, Any]) -> None:
    out = tmp_path / "r.csv"
    assert run(data, "--month", "2026-10", "--format", "csv", "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    total = {r["指标代码"]: r for r in rows if r["类别"] == "合计"}
    assert total["release_rate_pct"]["本期"] == "50.0"
    assert total["release_rate_pct"]["上期"] == "100.0"
    assert float(total["release_median_min"]["本期"]) == 5 * 60
    late = sorted(float(r["本期"]) for r in rows if r["类别"] == "超时明细")
    assert late == sorted(b["late_s"] / 60 for b in october["breaches"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "--month '2026-13' 不是有效月份"),
        (["--month", "十月"], "应为 YYYY-MM"),
        (["--from", "2026-10-31", "--to", "2026-10-01"], "结束须在开始之后"),
        (["--from", "2026-10-01"], "--from 需要同时给出 --to"),
        (["--from", "2026/10/01", "--to", "2026-10-31"], "--from '2026/10/01' 不是有效日期"),
        (["--month", "2026-10", "--format", "pdf"], "--format 'pdf' 不支持"),
        (["--month", "2026-10", "--body", "市宣传部"], "--body '市宣传部' 不是城市配置中的责任单位"),
    ],
)  # fmt: skip
def test_bad_options_are_named(data: Path, args: list[str], message: str) -> None:
    done = run(data, *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_an_empty_period_says_so(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    done = run(data, "--month", "2026-08", "--out", str(out))
    assert done.returncode == 1
    assert "2026-08-01 00:00 至 2026-09-01 00:00（北京时间）内没有事件" in done.stderr
    assert not out.exists()


def test_a_missing_store_is_named(tmp_path: Path) -> None:
    done = run(tmp_path / "nowhere", "--month", "2026-10")
    assert done.returncode == 2 and "没有监测数据库" in done.stderr


def test_html_report_in_chromium(data: Path, tmp_path: Path, october: dict[str, Any]) -> None:
    out = tmp_path / "2026-10.html"
    assert run(data, "--month", "2026-10", "--out", str(out)).returncode == 0
    html = out.read_text("utf-8")
    # self-contained: no script, stylesheet or image fetched from anywhere
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert html.count("<svg") >= 3
    with chromium(window=(1400, 1800)) as d:
        from selenium.webdriver.common.by import By

        d.get(out.as_uri())
        assert d.find_element(By.ID, "total-incidents").text == "6"
        assert "已并入他案 1 起，辖区外 1 起" in d.find_element(By.ID, "excluded").text
        cell = d.find_element(By.CSS_SELECTOR, 'table.total td[data-rule="release"]')
        assert cell.text.startswith("50.0%")
        assert len(d.find_elements(By.CSS_SELECTOR, "table.breaches tbody tr")) == 4
        # J was open at the end of the log, its press conference still running
        j = dict(zip([s.name for s in SPECS], _ids(data), strict=True))["J"]
        cells = d.find_elements(By.CSS_SELECTOR, "table.open-severe tbody td:first-child")
        assert [c.text for c in cells] == [j]
        assert d.find_elements(By.CSS_SELECTOR, "svg rect")  # the charts drew
        screenshot(d, ARTIFACTS / "report-2026-10.png")


def test_release_times_match_the_audit_rows(data: Path, october: dict[str, Any]) -> None:
    """The first-release times the report uses are the ones the audit log recorded: worked out
    here from the `act:release` rows and the `opened` events alone."""
    store = Store(f"sqlite:///{data / 'monitor.db'}")
    try:
        first_post = {
            e["incident_id"]: datetime.fromisoformat(e["data"]["first_seen"])
            for e in store.events_of() if e["kind"] == "opened"
        }  # fmt: skip
        released: dict[str, datetime] = {}
        for row in store.audit_rows():
            if row["what"] == "act:release":
                at = datetime.fromisoformat(json.loads(row["detail"])["at"])
                released[row["incident_id"]] = min(at, released.get(row["incident_id"], at))
    finally:
        store.close()
    start, end = (datetime.fromisoformat(october["period"][k]) for k in ("start", "end"))
    hours = sorted(
        (t - first_post[i]).total_seconds() for i, t in released.items()
        if start <= first_post[i] < end
    )  # fmt: skip
    mid = len(hours) // 2
    assert october["total"]["current"]["release"]["median_s"] == (hours[mid - 1] + hours[mid]) / 2
    assert october["total"]["current"]["release"]["count"] == len(hours)
