"""Grade from facts: 生产安全事故报告和调查处理条例 §3 thresholds, configurable.

Deaths include the missing (含失踪). Thresholds are inclusive lower bounds ("以上" includes the
number). Anything below grade III is IV, including "no casualties reported".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.domain.model import Casualties, Grade

GRADED = (Grade.I, Grade.II, Grade.III)


@dataclass(frozen=True, slots=True)
class Thresholds:
    deaths: int
    serious_injuries: int
    loss_yuan: int


@dataclass(frozen=True, slots=True)
class GradeDecision:
    grade: Grade
    basis: str


def _yuan(amount: int) -> str:
    if amount >= 100_000_000 and amount % 10_000_000 == 0:
        return f"{amount / 100_000_000:g}亿元"
    if amount >= 10_000:
        return f"{amount / 10_000:g}万元"
    return f"{amount}元"


def grade_facts(c: Casualties, table: Mapping[Grade, Thresholds]) -> GradeDecision:
    """The gravest grade any fact reaches, and the rule that fired, in Chinese."""
    dead = (c.deaths or 0) + (c.missing or 0)
    serious = c.serious_injured or 0
    loss = c.loss_yuan or 0
    for grade in GRADED:
        t = table[grade]
        name = f"{grade.label}（{grade.value}级）"
        if dead >= t.deaths:
            basis = f"死亡（含失踪）{dead}人，达到{name}标准（{t.deaths}人以上）"
            return GradeDecision(grade, basis)
        if serious >= t.serious_injuries:
            return GradeDecision(
                grade, f"重伤{serious}人，达到{name}标准（{t.serious_injuries}人以上）"
            )
        if loss >= t.loss_yuan:
            return GradeDecision(
                grade, f"直接经济损失{_yuan(loss)}，达到{name}标准（{_yuan(t.loss_yuan)}以上）"
            )
    return GradeDecision(Grade.IV, _basis_iv(c, dead, serious))


def _basis_iv(c: Casualties, dead: int, serious: int) -> str:
    facts = []
    if c.deaths is not None or c.missing is not None:
        facts.append(f"死亡（含失踪）{dead}人")
    if c.serious_injured is not None:
        facts.append(f"重伤{serious}人")
    if c.loss_yuan is not None:
        facts.append(f"直接经济损失{_yuan(c.loss_yuan)}")
    basis = "，".join(facts) + "，未达较大标准" if facts else "未见伤亡和损失信息"
    if c.uncertain:
        basis += f"；人数不明（{'、'.join(c.uncertain)}），需核实"
    return basis + "，按一般（IV级）"
