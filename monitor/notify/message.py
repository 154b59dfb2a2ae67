"""What a notification says, in Simplified Chinese, for each channel's format.

`OutboxMessage` is the input this package accepts from the `notifications` outbox topic. The
incident domain's NotificationIntent maps onto it field for field (`from_intent`). Every text
a notification shows is written here, from the intent's facts and the configured values it
carries (clock labels, the unacknowledged wait); time left is counted when it is sent.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated

import msgspec

from monitor.domain.escalation import Step, Trigger
from monitor.domain.events import NotificationIntent
from monitor.domain.model import Grade
from monitor.domain.policy import DEFAULT_RULES

# What each clock asks for; the clocks' names come from the city config (ClockRule.label).
CLOCK_ACTIONS = {"release": "发布权威信息", "press_conference": "召开新闻发布会",
                 "follow_up": "发布后续进展信息", "answer": "回应社会关切"}  # fmt: skip
STEP_HEADINGS = {
    Step.OPENED: "新舆情事件",
    Step.UNACKNOWLEDGED: "未确认升级",
    Step.WARNING: "时限预警",
    Step.BREACH: "超时督办",
    Step.REGRADED: "等级调整",
    Step.RECORD_REFUSED: "数据处理故障",
    Step.DELIVERY_FAILED: "通知发送失败",
    Step.UNCERTAIN: "通知送达状态不明",
}
WATCH_HEADING = "辖区外舆情（仅供关注）"


def step_label(step: object) -> str:
    """How the page names a notification's step: its message heading, as a notice."""
    try:
        return f"{STEP_HEADINGS[Step(str(step))]}通知"
    except ValueError:
        return str(step)
CST = timezone(timedelta(hours=8))
# A notice sent this long after its step fell due (the monitor or the notifier was down) says
# so, and that its figures are as of sending.
CATCH_UP_AFTER = timedelta(minutes=10)


# Decoding rejects a time without a zone: "10:00" could be Beijing time or UTC, 8 hours apart.
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class ClockView(msgspec.Struct, frozen=True, kw_only=True):
    """A clock as a message shows it. `status`: monitor.domain.clocks.STATUSES."""

    name: str
    deadline: AwareTime
    label: str | None = None
    status: str = "running"


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One notification. `key` is its idempotency key: the same key is sent once.

    `clock`, `clock_id`, `clock_label` and `deadline` name the clock a warning or breach is
    about; `clocks` are all the incident's clocks when the step fired."""

    key: str
    incident_id: str
    step: Step
    grade: Grade | None
    at: AwareTime
    title: str
    place: str | None = None
    bodies: tuple[str, ...] = ()
    category: str | None = None
    in_jurisdiction: bool = True
    clocks: tuple[ClockView, ...] = ()
    clock: str | None = None
    clock_id: str | None = None
    clock_label: str | None = None
    deadline: AwareTime | None = None
    warning_before_min: int | None = None
    unacknowledged_after_min: int | None = None
    link: str | None = None
    expected: str | None = None

    def trigger(self) -> Trigger:
        return Trigger(
            key=self.key, incident_id=self.incident_id, step=self.step, grade=self.grade,
            at=self.at, bodies=self.bodies, category=self.category, clock=self.clock,
            warning_before_min=self.warning_before_min, in_jurisdiction=self.in_jurisdiction,
        )  # fmt: skip


class Rendered(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    lines: tuple[str, ...]
    expected: str
    link: str | None
    urgent: bool

    @property
    def text(self) -> str:
        tail = [f"详情：{self.link}"] if self.link else []
        return "\n".join([self.title, *self.lines, f"现在需要：{self.expected}", *tail])

    @property
    def markdown(self) -> str:
        body = [f"**{self.title}**", *(f"> {line}" for line in self.lines)]
        body.append(f"**现在需要：{self.expected}**")
        if self.link:
            body.append(f"[查看事件详情]({self.link})")
        return "\n".join(body)

    @property
    def html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        link = f'<p><a href="{html.escape(self.link)}">查看事件详情</a></p>' if self.link else ""
        return (
            f"<html><body><h2>{html.escape(self.title)}</h2><ul>{items}</ul>"
            f"<p><strong>现在需要：{html.escape(self.expected)}</strong></p>{link}</body></html>"
        )


def grade_text(grade: Grade | None) -> str:
    return f"{grade.value}级（{grade.label}）" if grade else "未定级"


@lru_cache(maxsize=4096)
def local(at: datetime) -> str:
    # cached: a notice shows each of its clocks' deadlines, the same few times over and over
    t = at.astimezone(CST)
    return f"{t.month}月{t.day}日 {t.hour:02d}:{t.minute:02d}"


def span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours}小时{mins}分" if hours else f"{mins}分"


# for a message that carries no label (an old outbox row, `monitor notify test`)
_DEFAULT_LABELS = {r.name: r.label for r in DEFAULT_RULES}


def _label(name: str, label: str | None) -> str:
    return label or _DEFAULT_LABELS.get(name, name)


def clock_line(c: ClockView, now: datetime) -> str | None:
    label = _label(c.name, c.label)
    done = {"met": "已按时完成", "late": "已完成（超时）", "not_done": "未完成（事件已关闭）"}
    if c.status == "excluded":
        return None
    if c.status in done:
        return f"{label}：{done[c.status]}"
    left = c.deadline - now
    overdue = c.status == "breached" or left < timedelta(0)
    state = f"已超时 {span(left)}" if overdue else f"剩余 {span(left)}"
    return f"{label}：{state}（{local(c.deadline)}截止）"


def render(msg: OutboxMessage, now: datetime) -> Rendered:
    """The message as read at `now` (time left is counted to the moment of sending)."""
    lines = [f"等级：{grade_text(msg.grade)}"]
    if msg.place:
        lines.append(f"地点：{msg.place}")
    if msg.bodies:
        lines.append(f"责任单位：{'、'.join(msg.bodies)}")
    lines.extend(_step_lines(msg, now))
    lines.extend(line for c in msg.clocks if (line := clock_line(c, now)) is not None)
    reminder = msg.step in (Step.UNACKNOWLEDGED, Step.WARNING, Step.BREACH)
    if reminder and now - msg.at > CATCH_UP_AFTER:
        lines.append(
            f"（补发：本提醒应于{local(msg.at)}发出，因系统中断延后；以上为发送时的实际状态）"
        )
    heading = STEP_HEADINGS[msg.step] if msg.in_jurisdiction else WATCH_HEADING
    title = f"【{heading}】{msg.title}"
    urgent = msg.grade in (Grade.I, Grade.II) or msg.step in (
        Step.BREACH, Step.DELIVERY_FAILED, Step.RECORD_REFUSED
    )
    return Rendered(
        title=title, lines=tuple(lines), expected=expected(msg), link=msg.link, urgent=urgent
    )


def _step_lines(msg: OutboxMessage, now: datetime) -> list[str]:
    if msg.step is Step.UNACKNOWLEDGED and msg.unacknowledged_after_min is not None:
        return [f"推送后超过{msg.unacknowledged_after_min}分钟，责任单位仍未签收"]
    if msg.step is Step.BREACH and msg.deadline is not None:
        label = _label(msg.clock or "", msg.clock_label)
        return [f"超时：{label}已于{local(msg.deadline)}届满未完成"]
    if msg.step is Step.WARNING and msg.deadline is not None:
        label = _label(msg.clock or "", msg.clock_label)
        return [f"预警：{label}将于{local(msg.deadline)}届满，剩余 {span(msg.deadline - now)}"]
    return []


def expected(msg: OutboxMessage) -> str:
    """What the reader must do now; a producer's own wording wins."""
    if msg.expected:
        return msg.expected
    if msg.step is Step.RECORD_REFUSED:
        return "请通知系统管理员核查死信队列（dlq）中的该条记录；其余数据照常处理"
    if not msg.in_jurisdiction:
        return "辖区外事件，仅供关注，无需处置"
    named = _named_clock(msg)
    due = named or _focus_clock(msg)
    action = CLOCK_ACTIONS.get(due.name, "处置") if due else "处置并回应"
    by = f"请于{local(due.deadline)}前{action}" if due else f"请尽快{action}"
    if msg.step is Step.OPENED:
        return f"请立即核实情况，{by}"
    if msg.step is Step.UNACKNOWLEDGED:
        return f"责任单位尚未签收，请督促立即签收并处置；{by}"
    if msg.step is Step.BREACH and named is not None:
        label = _label(named.name, named.label)
        return f"{label}时限已于{local(named.deadline)}届满，请立即督办{action}"
    return by


def _named_clock(msg: OutboxMessage) -> ClockView | None:
    """The clock a warning or breach is about, as the step itself gives it: never another
    clock of the incident."""
    if msg.clock is None or msg.deadline is None:
        return None
    return ClockView(name=msg.clock, deadline=msg.deadline, label=msg.clock_label)


def _focus_clock(msg: OutboxMessage) -> ClockView | None:
    running = [c for c in msg.clocks if c.status in ("running", "breached")]
    return min(running, key=lambda c: c.deadline) if running else None


def render_digest(msgs: list[OutboxMessage], now: datetime) -> Rendered:
    """Several notices in one message, for when a robot's rate limit would hold them back."""
    lines = []
    for i, msg in enumerate(msgs, 1):
        one = render(msg, now)
        place = f"，{msg.place}" if msg.place else ""
        lines.append(
            f"{i}. {one.title}（{grade_text(msg.grade)}{place}）：{one.expected}"
            + (f" {msg.link}" if msg.link else "")
        )
    urgent = any(render(m, now).urgent for m in msgs)
    title = f"【舆情回应提醒·合并{len(msgs)}条】"
    return Rendered(title=title, lines=tuple(lines), expected="请逐条核实并按时限处置", link=None,
                    urgent=urgent)  # fmt: skip


def from_intent(intent: NotificationIntent, link: str | None = None) -> OutboxMessage:
    """The incident domain's NotificationIntent as the notifier's message, field for field."""
    clocks = tuple(
        ClockView(name=c.rule, deadline=c.deadline, label=c.label, status=c.status)
        for c in intent.clocks
    )
    return OutboxMessage(
        key=intent.key, incident_id=intent.incident_id, step=Step(intent.step),
        grade=intent.grade, at=intent.at, title=intent.title, place=intent.place,
        bodies=intent.bodies, category=intent.category, in_jurisdiction=intent.in_jurisdiction,
        clocks=clocks, clock=intent.clock, clock_id=intent.clock_id,
        clock_label=intent.clock_label, deadline=intent.deadline,
        warning_before_min=intent.warning_before_min,
        unacknowledged_after_min=intent.unacknowledged_after_min, link=link,
    )  # fmt: skip


def incident_link(public_url: str | None, incident_id: str) -> str | None:
    """The incident's page under the deployment's public URL; None when none is configured (a
    link to this machine's loopback address would mislead every reader on another machine)."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/#incident/{incident_id}"
