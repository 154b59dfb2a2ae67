from __future__ import annotations

import pytest

from monitor.config import default_config
from monitor.domain.grading import Thresholds, grade_facts
from monitor.domain.model import Casualties, Grade

TABLE = {
    g: Thresholds(t.deaths, t.serious_injuries, t.loss_yuan)
    for g, t in default_config().grading.thresholds.items()
}


@pytest.mark.parametrize(
    ("facts", "grade", "basis"),
    [
        (Casualties(), Grade.IV, "未见伤亡和损失信息"),
        (Casualties(deaths=2), Grade.IV, "未达较大标准"),
        (Casualties(deaths=3), Grade.III, "死亡（含失踪）3人，达到较大（III级）标准（3人以上）"),
        (Casualties(deaths=9), Grade.III, "较大"),
        (Casualties(deaths=10), Grade.II, "重大（II级）"),
        (Casualties(deaths=29), Grade.II, "重大"),
        (Casualties(deaths=30), Grade.I, "特别重大（I级）"),
        (Casualties(deaths=2, missing=1), Grade.III, "死亡（含失踪）3人"),  # 含失踪
        (Casualties(missing=24), Grade.II, "死亡（含失踪）24人"),
        (Casualties(serious_injured=9), Grade.IV, "重伤9人"),
        (Casualties(serious_injured=10), Grade.III, "重伤10人"),
        (Casualties(serious_injured=50), Grade.II, "重伤50人"),
        (Casualties(serious_injured=100), Grade.I, "重伤100人"),
        (Casualties(loss_yuan=9_999_999), Grade.IV, "直接经济损失"),
        (Casualties(loss_yuan=10_000_000), Grade.III, "直接经济损失1000万元"),
        (Casualties(loss_yuan=50_000_000), Grade.II, "5000万元"),
        (Casualties(loss_yuan=100_000_000), Grade.I, "1亿元"),
        (Casualties(deaths=1, serious_injured=60), Grade.II, "重伤60人"),  # gravest fact wins
        (Casualties(uncertain=("deaths",)), Grade.IV, "人数不明"),
    ],
)
def test_fact_thresholds_include_the_number(facts: Casualties, grade: Grade, basis: str) -> None:
    decision = grade_facts(facts, TABLE)
    assert decision.grade is grade
    assert basis in decision.basis


def test_plain_injury_counts_as_serious_by_default(classifier) -> None:  # type: ignore[no-untyped-def]
    c = classifier.classify_text("t", "安岳县一客车侧翻，造成12人受伤")
    assert c.grade is Grade.III
    assert "重伤12人" in (c.grade_basis or "")


def test_plain_injury_rule_is_configurable() -> None:
    from monitor.service import Classifier

    cfg = default_config()
    grading = cfg.grading.model_copy(update={"plain_injury_is_serious": False})
    lenient = Classifier.from_config(cfg.model_copy(update={"grading": grading}))
    c = lenient.classify_text("t", "安岳县一客车侧翻，造成12人受伤")
    assert c.grade is Grade.IV
