"""What-if: the same history under other rules, compared incident by incident. Each test seeds
one difference and checks the replay finds it and says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.config import DEFAULT_CONFIG
from monitor.replay.timeline import iso
from tests.replay.conftest import incidents, monitor, replay_under, whatif, write_jsonl

T0 = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)  # 08:00 in Ziyang
MODEL = DEFAULT_CONFIG.parent / "ziyang_model.yaml"


def post(pid: str, text: str, minutes: float) -> dict[str, Any]:
    return {"id": pid, "text": text, "source": "weibo",
            "published_at": iso(T0 + timedelta(minutes=minutes))}  # fmt: skip


def release(pid: str, hours: float) -> dict[str, Any]:
    return {"type": "answer", "post_id": pid, "kind": "release", "by": "市应急管理局",
            "at": iso(T0 + timedelta(hours=hours)), "url": "https://www.ziyang.gov.cn/xxgk/9",
            "channel": "政府网站"}  # fmt: skip


def test_a_keyword_added_detects_the_incident_earlier_by_the_seeded_minutes(
    tmp_path: Path,
) -> None:
    # the first report names no keyword of the base model; the second, 45 minutes later, does
    history = write_jsonl(tmp_path / "h.jsonl", [
        post("x1", "雁江区宝台镇一厂区传出巨响，冒出滚滚黑烟，附近居民很担心。", 0),
        post("x2", "雁江区宝台镇一厂区传出巨响后确认为化工厂爆炸，已造成12人死亡，多人受伤。", 45),
        post("end", "资阳今日天气晴好。", 6 * 60),
    ])  # fmt: skip
    # an analyst's edit of the learned model: one term added to a category, in a copy of it
    model = yaml.safe_load(MODEL.read_text("utf-8"))
    model["categories"]["work_safety"]["terms"]["巨响"] = model["min_score"]
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(model, allow_unicode=True), "utf-8")
    base = monitor("replay", history, "--report", tmp_path / "base", "--quiet")
    assert base.returncode == 0, base.stderr
    done = replay_under("classifier:\n  model: model.yaml\n", history, tmp_path / "out")

    [before] = incidents(tmp_path / "base")
    [after] = incidents(tmp_path / "out")
    assert before["first_post"]["id"] == "file:x2" and after["first_post"]["id"] == "file:x1"
    assert set(before["post_ids"]) < set(after["post_ids"])
    assert "发现时间提前 45 分钟" in done.stdout, done.stdout
    [change] = whatif(tmp_path / "out")
    assert change["changes"]["detection_shift_s"] == -45 * 60
    # the base run's files are kept beside it
    assert json.loads((tmp_path / "out" / "base-incidents.json").read_text("utf-8")) == [before]


def test_a_3h_release_rule_turns_on_time_releases_into_breaches(tmp_path: Path) -> None:
    history = write_jsonl(tmp_path / "h.jsonl", [
        post("a1", "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤。", 0),
        post("c1", "乐至县童家镇一煤矿发生瓦斯爆炸事故，已造成11人死亡，救援正在进行。", 10),
        post("d1", "安岳县岳阳镇一在建工地脚手架坍塌，已造成10名工人死亡。", 20),
        release("a1", 4), release("c1", 4.5), release("d1", 2),
        post("end", "资阳今日天气晴好。", 8 * 60),
    ])  # fmt: skip
    rules = "clocks:\n  release: {after: 3h, warnings: [1h, 30m]}\n"
    done = replay_under(rules, history, tmp_path / "out")

    base = {i["first_post"]["id"]: i for i in
            json.loads((tmp_path / "out" / "base-incidents.json").read_text("utf-8"))}  # fmt: skip
    alt = {i["first_post"]["id"]: i for i in incidents(tmp_path / "out")}
    assert set(base) == set(alt) == {"file:a1", "file:c1", "file:d1"}

    def release_status(inc: dict[str, Any]) -> str:
        return next(v["status"] for v in inc["verdicts"] if v["clock"] == "release")

    assert {k: release_status(v) for k, v in base.items()} == dict.fromkeys(base, "met")
    assert release_status(alt["file:a1"]) == release_status(alt["file:c1"]) == "late"
    assert release_status(alt["file:d1"]) == "met"
    changes = {c["alt"]: c["changes"] for c in whatif(tmp_path / "out")}
    for pid, hours in (("file:a1", 3), ("file:c1", 3 + 10 / 60)):
        ident = alt[pid]["id"]
        [added] = changes[ident]["breaches_added"]
        assert added["clock"] == "release"
        assert added["at"] == iso(T0 + timedelta(hours=hours))
    assert alt["file:d1"]["id"] not in changes
    assert done.stdout.count("新增超时：权威信息发布") == 2, done.stdout


def test_a_higher_grade_threshold_regrades_reroutes_and_avoids_the_5h_breach(
    tmp_path: Path,
) -> None:
    # 12 deaths: grade II under the national thresholds, III when II needs 15
    history = write_jsonl(tmp_path / "h.jsonl", [
        post("a1", "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤。", 0),
        post("end", "资阳今日天气晴好。", 6 * 60),
    ])  # fmt: skip
    rules = "grading:\n  thresholds:\n    II: {deaths: 15}\n"
    done = replay_under(rules, history, tmp_path / "out")
    [change] = whatif(tmp_path / "out")
    ch = change["changes"]
    assert ch["grade"] == ["II", "III"]
    assert ch["lead"] == ["市应急管理局", "雁江区人民政府"]  # III/IV: the county leads
    assert [b["clock"] for b in ch["breaches_avoided"]] == ["release"]
    assert "breaches_added" not in ch and "detection_shift_s" not in ch
    assert "分级不同：原 II 级 → 现 III 级" in done.stdout
    assert "牵头单位不同：原 市应急管理局 → 现 雁江区人民政府" in done.stdout
    assert "避免超时：权威信息发布" in done.stdout
