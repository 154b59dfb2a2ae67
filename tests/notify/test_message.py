"""What officials read: Chinese text with grade, place, bodies, time left, what to do, link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.domain.escalation import Step
from monitor.domain.model import Grade
from monitor.notify.message import ClockView, OutboxMessage, render, render_digest

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 14:00 in Ziyang
START = NOW - timedelta(hours=1, minutes=48)


def msg(step: Step = Step.OPENED, **kw: object) -> OutboxMessage:
    base: dict[str, object] = dict(
        key="notify:i1:opened", incident_id="i1", step=step, grade=Grade.II, at=NOW,
        title="雁江区某化工厂爆炸", place="资阳市雁江区", bodies=("市应急管理局", "雁江区人民政府"),
        clocks=(ClockView(name="release", deadline=START + timedelta(hours=5)),
                ClockView(name="press_conference", deadline=START + timedelta(hours=24))),
        link="https://yuqing.example.invalid/incidents/i1",
    )  # fmt: skip
    base.update(kw)
    return OutboxMessage(**base)  # type: ignore[arg-type]


def test_opened_message_says_everything_in_chinese() -> None:
    text = render(msg(), NOW).text
    assert text.splitlines()[0] == "【新舆情事件】雁江区某化工厂爆炸"
    for part in ("等级：II级（重大）", "地点：资阳市雁江区", "责任单位：市应急管理局、雁江区人民政府",
                 "权威信息发布：剩余 3小时12分（11月25日 17:12截止）",
                 "新闻发布会：剩余 22小时12分（11月26日 12:12截止）",
                 "现在需要：请立即核实情况，请于11月25日 17:12前发布权威信息",
                 "详情：https://yuqing.example.invalid/incidents/i1"):  # fmt: skip
        assert part in text, part


def test_warning_names_its_own_clock_and_breach_says_overdue() -> None:
    pc = START + timedelta(hours=24)
    warn = render(msg(Step.WARNING, clock="press_conference", deadline=pc), NOW)
    assert warn.expected == "请于11月26日 12:12前召开新闻发布会"
    late = NOW + timedelta(hours=3, minutes=40)
    breach = render(msg(Step.BREACH, clock="release", deadline=START + timedelta(hours=5)), late)
    assert "权威信息发布：已超时 28分（11月25日 17:12截止）" in breach.lines
    assert breach.expected == "权威信息发布时限已于11月25日 17:12届满，请立即督办发布权威信息"


def test_stopped_clocks_and_producer_wording() -> None:
    stopped = (ClockView(name="release", deadline=NOW, status="met"),)
    r = render(msg(clocks=stopped, expected="请核对发布内容"), NOW)
    assert "权威信息发布：已按时完成" in r.lines and r.expected == "请核对发布内容"


def test_markdown_and_html_escape_and_link() -> None:
    r = render(msg(title="<script>x</script>"), NOW)
    assert "[查看事件详情](https://yuqing.example.invalid/incidents/i1)" in r.markdown
    assert "<script>" not in r.html and "&lt;script&gt;" in r.html


def test_digest_lists_every_incident() -> None:
    msgs = [
        msg(key=f"k{i}", incident_id=f"i{i}", title=f"事件{i}", grade=Grade.IV) for i in range(3)
    ]
    d = render_digest(msgs, NOW)
    assert d.title == "【舆情回应提醒·合并3条】"
    assert [line.split("】")[1].split("（")[0] for line in d.lines] == ["事件0", "事件1", "事件2"]
