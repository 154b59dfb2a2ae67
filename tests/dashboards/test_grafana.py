"""Dashboards as code: the committed JSON is what dashboards/build.py renders, each dashboard has
a fixed uid and a Chinese title, and every panel uses the provisioned datasource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboards import build
from tests.dashboards.conftest import GRAFANA_DIR, load_yaml

EXPECTED_UIDS = {"yuqing-duty", "yuqing-sources", "yuqing-notify", "yuqing-departments",
                 "yuqing-leaders"}  # fmt: skip


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def boards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in GRAFANA_DIR.glob("*.json")}


def test_committed_json_is_what_build_renders(tmp_path: Path) -> None:
    assert build.main(["--out", str(tmp_path)]) == 0
    for fresh in tmp_path.glob("*.json"):
        committed = GRAFANA_DIR / fresh.name
        assert committed.is_file(), f"{fresh.name} not committed: run python -m dashboards.build"
        assert committed.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), (
            f"{committed} is stale: run python -m dashboards.build"
        )
    assert build.main(["--check"]) == 0


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    build.main(["--out", str(tmp_path)])
    target = tmp_path / "yuqing-duty.json"
    target.write_text(target.read_text(encoding="utf-8").replace("值班总览", "总览"), "utf-8")
    assert build.stale(tmp_path) == ["yuqing-duty.json"]
    assert build.main(["--out", str(tmp_path), "--check"]) == 1


def test_rendering_is_deterministic() -> None:
    assert build.rendered() == build.rendered()


def test_fixed_uids_and_chinese_titles() -> None:
    found = boards()
    assert {b["uid"] for b in found.values()} == EXPECTED_UIDS
    for name, board in found.items():
        assert name == f"{board['uid']}.json"
        assert has_chinese(board["title"]), board["title"]
        for panel in board["panels"]:
            assert has_chinese(panel["title"]), f"{name}: panel {panel['title']!r}"


@pytest.mark.parametrize(
    "uid, titles",
    [
        ("yuqing-duty", {"在办事件", "时限预警（24小时）", "时限已超（24小时）", "帖子处理速率（条/秒）",
                         "采集到事件延迟 p99（目标 ≤ 1 秒）", "拒收记录（dlq）"}),
        ("yuqing-sources", {"数据源状态", "采集错误", "距上次成功采集"}),
        ("yuqing-notify", {"已送达", "发送失败", "重试", "待发队列"}),
        ("yuqing-departments", {"5小时内权威信息发布按时率（近30天）", "首次发布用时中位数",
                                "新闻发布会用时 P90", "全市首次发布用时分布（近30天，累计起数）"}),
        ("yuqing-leaders", {"未关闭的 I、II 级事件", "全市按时率趋势（近30天滚动）",
                            "全市按时率趋势（近90天滚动）", "近30天超时次数（分部门）"}),
    ],
)  # fmt: skip
def test_each_dashboard_has_its_panels(uid: str, titles: set[str]) -> None:
    board = boards()[f"{uid}.json"]
    assert titles <= {p["title"] for p in board["panels"]}


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    for name, board in boards().items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        cells: set[tuple[int, int]] = set()
        for p in board["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, f"{name}: {p['title']} runs off the grid"
            mine = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert not mine & cells, f"{name}: {p['title']} overlaps another panel"
            cells |= mine


def test_panels_use_the_provisioned_datasource() -> None:
    provisioned = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = provisioned["datasources"]
    for name, board in boards().items():
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": source["type"], "uid": source["uid"]}, name
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == source["uid"], name


def test_dashboard_provider_reads_files() -> None:
    provider = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "yuqing.yml")
    (entry,) = provider["providers"]
    assert entry["type"] == "file"
    assert entry["options"]["path"] == "/etc/grafana/dashboards"  # where compose mounts them
