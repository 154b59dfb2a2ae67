from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], input=stdin, capture_output=True, check=False
    )


CONTRACT_KEYS = {
    "id", "is_incident", "category", "confidence", "keywords", "casualties", "location",
    "grade", "grade_basis", "responsible",
}  # fmt: skip


def test_classify_writes_one_object_per_line_in_order() -> None:
    lines = [
        {"id": "a", "text": "安岳县一化工厂发生爆炸，造成3人死亡", "published_at": "2026-11-01T08:00:00+08:00"},
        {"id": 2, "title": "股市收评", "text": "A股三大指数集体收涨"},
        {"id": "c", "text": "重庆市大足区发生交通事故", "source": "weibo", "author": "x"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode()
    out = run(["classify", "-"], stdin)
    assert out.returncode == 0, out.stderr.decode()
    rows = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert [r["id"] for r in rows] == ["a", "2", "c"]
    assert all(r.keys() >= CONTRACT_KEYS for r in rows)
    assert rows[0]["grade"] == "III" and rows[0]["responsible"]["lead"] == "安岳县人民政府"
    assert rows[1]["is_incident"] is False and rows[1]["grade"] is None
    assert rows[1]["location"]["county"] is None  # not found → null
    assert rows[2]["location"]["in_jurisdiction"] is False
    assert rows[2]["responsible"] == {"level": None, "lead": None, "co": [], "bodies": []}
    for key in ("deaths", "missing", "injured", "trapped", "loss_yuan"):
        assert key in rows[0]["casualties"]


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_classified(tmp_path: Path) -> None:
    big = json.dumps({"id": "big", "text": "火" * 1_000_001})
    content = "\n".join([
        json.dumps({"id": "ok1", "text": "雁江区一民房起火"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "notext"}),
        json.dumps({"id": "empty", "text": "  "}),
        big,
        json.dumps({"id": "badtime", "text": "起火", "published_at": "yesterday"}),
        json.dumps({"id": "ok2", "text": "乐至县发生交通事故"}, ensure_ascii=False),
    ])  # fmt: skip
    src = tmp_path / "in.jsonl"
    src.write_text(content, encoding="utf-8")
    dead = tmp_path / "dead.jsonl"
    out = run(["classify", str(src), "--dead-letter", str(dead)])
    assert out.returncode == 1
    ids = [json.loads(x)["id"] for x in out.stdout.decode().splitlines()]
    assert ids == ["ok1", "ok2"]
    err = out.stderr.decode()
    assert f"{src}:2: invalid JSON" in err
    assert f"{src}:3: invalid record" in err and "text" in err
    assert f"{src}:4: `text` is empty" in err
    assert f"{src}:5: " in err and "over" in err
    assert f"{src}:6: invalid record" in err and "published_at" in err
    assert "5 bad line(s)" in err
    rejected = [json.loads(x) for x in dead.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rejected] == [2, 3, 4, 5, 6]


def test_route_prints_bodies_in_chinese() -> None:
    out = run(["route", "资阳市安岳县石桥街道化工厂爆炸，造成12人死亡"])
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "牵头: 市应急管理局" in text and "安岳县人民政府" in text


def test_route_explains_what_fired_and_the_casualty_evidence() -> None:
    out = run(["route", "乐至县一旅游大巴与货车相撞，车上游客3人死亡"])
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "类别: 道路交通事故(traffic_accident)" in text
    assert "相撞→道路交通事故(traffic_accident) +" in text  # the trigger and its weight
    topic = next(line for line in text.splitlines() if line.startswith("主题词: "))
    assert re.search(r"→(?!道路交通事故)\w+\(\w+\) \+", topic)  # a topic word that lost
    assert "'deaths': 3" in text and "计入事件证据" in text
    assert "分级: III" in text


def test_classify_stats_reports_posts_per_second(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "资阳火灾"}\n{"id": 2, "text": "天气晴"}\n', encoding="utf-8")
    out = run(["classify", "--stats", str(src)])
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 2
    assert re.search(r"classified 2 posts: [\d.]+ s CPU \([\d,]+ posts/s\)", out.stderr.decode())
