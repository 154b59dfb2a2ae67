from __future__ import annotations

import pytest

from monitor.domain.model import Grade
from monitor.service import Classifier, contract

INCIDENTS = [
    ("安岳县一化工厂发生爆炸，现场浓烟滚滚", "work_safety"),
    ("雁江区一居民楼起火，消防员赶到现场扑灭明火", "fire"),
    ("乐至县境内国道上一辆客车与货车相撞", "traffic_accident"),
    ("资阳发生4.2级地震，震源深度10千米", "natural_disaster"),
    ("村民反映河道被化工厂偷排污水，出现大量死鱼", "environment"),
    ("资阳新增本土确诊病例2例，均在隔离管控中发现", "public_health"),
    ("某小学学生午餐后出现呕吐腹泻，疑似食物中毒", "food_drug"),
    ("男子在街头持刀行凶，犯罪嫌疑人已被警方控制", "public_security"),
    ("工地农民工讨薪无果，被拖欠工资半年", "labor"),
    ("小区业主反映开发商逾期交房，楼盘成了烂尾楼", "housing"),
]
NOT_INCIDENTS = [
    "A股三大指数集体收涨，券商板块领涨",
    "新赛季联赛揭幕，球队主场取胜",
    "电影票房突破十亿，主演亮相首映礼",
    "今天天气晴朗，适合出游",
]


@pytest.mark.parametrize(("text", "category"), INCIDENTS)
def test_categories(classifier: Classifier, text: str, category: str) -> None:
    c = classifier.classify_text("t", text)
    assert c.is_incident and c.category == category, c.keywords
    assert 0 < c.confidence <= 1
    assert c.keywords and len(c.keywords) <= 5


@pytest.mark.parametrize("text", NOT_INCIDENTS)
def test_not_incidents(classifier: Classifier, text: str) -> None:
    c = classifier.classify_text("t", text)
    assert not c.is_incident and c.category == "none"
    assert c.grade is None and c.responsible.lead is None


def test_full_contract_for_a_grade_ii_incident(classifier: Classifier) -> None:
    text = "资阳市安岳县石桥街道一化工厂发生爆炸，已造成8人死亡、3人失踪，27人受伤"
    out = contract(classifier.classify_text("p1", text))
    assert out["id"] == "p1" and out["category"] == "work_safety" and out["is_incident"]
    assert out["casualties"]["deaths"] == 8 and out["casualties"]["missing"] == 3
    assert out["casualties"]["injured"] == 27
    assert out["casualties"]["trapped"] is None and out["casualties"]["loss_yuan"] is None
    assert out["grade"] == Grade.II.value  # 8 dead + 3 missing = 11 ≥ 10
    assert out["location"]["town_code"] == "512021002"
    assert out["responsible"] == {
        "level": "city",
        "lead": "市应急管理局",
        "co": ["安岳县人民政府"],
        "bodies": ["市应急管理局", "安岳县人民政府"],
    }


def test_every_term_also_segments_whole_in_jieba() -> None:
    """Terms and place names are jieba user words: each one cuts out as a single token."""
    from monitor.config import default_config

    jc = Classifier.from_config(default_config(), engine="jieba")
    learned = sorted(t for t in jc.model.vocabulary if len(t) >= 3)[:20]  # the model's own
    for word in ("石桥街道", "资阳高新区", "食物中毒", "临空经济区", *learned):
        assert (word, 0) in jc.scanner.hits(word), word
