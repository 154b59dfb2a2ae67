"""What a notification says, in Simplified Chinese, for each channel's format.

`OutboxMessage` is the input this package accepts from the `notifications` outbox topic. The
incident domain's NotificationIntent maps onto it field for field (see docs in README of the
package): intent id → key, incident id, step, roles, bodies, grade, at.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Protocol

import msgspec

from monitor.domain.escalation import Role, Step, Trigger
from monitor.domain.model import Grade

CLOCK_LABELS = {"release": "信息发布", "press_conference": "新闻发布会",
                "follow_up": "后续发布", "answer": "舆情回应"}  # fmt: skip
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
CST = timezone(timedelta(hours=8))


# Decoding rejects a time without a zone: "10:00" could be Beijing time or UTC, 8 hours apart.
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


class ClockView(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    deadline: AwareTime
    stopped: bool = False


class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One notification intent. `key` is its idempotency key: the same key is sent once."""

    key: str
    incident_id: str
    step: Step
    grade: Grade | None
    at: AwareTime
    title: str
    place: str | None = None
    bodies: tuple[str, ...] = ()
    category: str | None = None
    clocks: tuple[ClockView, ...] = ()
    clock: str | None = None
    warning_before_min: int | None = None
    roles: tuple[Role, ...] = ()
    link: str | None = None
    expected: str | None = None

    def trigger(self) -> Trigger:
        return Trigger(
            key=self.key, incident_id=self.incident_id, step=self.step, grade=self.grade,
            at=self.at, bodies=self.bodies, category=self.category, clock=self.clock,
            warning_before_min=self.warning_before_min, roles=self.roles,
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


def local(at: datetime) -> str:
    t = at.astimezone(CST)
    return f"{t.month}月{t.day}日 {t:%H:%M}"


def span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    return f"{hours}小时{mins}分" if hours else f"{mins}分"


def clock_line(c: ClockView, now: datetime) -> str:
    label = CLOCK_LABELS.get(c.name, c.name)
    if c.stopped:
        return f"{label}：已完成"
    left = c.deadline - now
    state = f"剩余 {span(left)}" if left >= timedelta(0) else f"已超时 {span(left)}"
    return f"{label}：{state}（{local(c.deadline)}截止）"


def render(msg: OutboxMessage, now: datetime) -> Rendered:
    lines = [f"等级：{grade_text(msg.grade)}"]
    if msg.place:
        lines.append(f"地点：{msg.place}")
    if msg.bodies:
        lines.append(f"责任单位：{'、'.join(msg.bodies)}")
    lines.extend(clock_line(c, now) for c in msg.clocks)
    title = f"【{STEP_HEADINGS[msg.step]}】{msg.title}"
    urgent = msg.grade in (Grade.I, Grade.II) or msg.step in (
        Step.BREACH, Step.DELIVERY_FAILED, Step.RECORD_REFUSED
    )
    return Rendered(
        title=title, lines=tuple(lines), expected=expected(msg), link=msg.link, urgent=urgent
    )


def expected(msg: OutboxMessage) -> str:
    """What the reader must do now; a producer's own wording wins."""
    if msg.expected:
        return msg.expected
    if msg.step is Step.RECORD_REFUSED:
        return "请通知系统管理员核查死信队列（dlq）中的该条记录；其余数据照常处理"
    due = _focus_clock(msg)
    action = CLOCK_ACTIONS.get(due.name, "处置") if due else "处置并回应"
    by = f"请于{local(due.deadline)}前{action}" if due else f"请尽快{action}"
    if msg.step is Step.OPENED:
        return f"请立即核实情况，{by}"
    if msg.step is Step.UNACKNOWLEDGED:
        return f"责任单位尚未确认接收，请督促立即确认并处置；{by}"
    if msg.step is Step.BREACH and due:
        label = CLOCK_LABELS.get(due.name, due.name)
        return f"{label}时限已于{local(due.deadline)}届满，请立即督办{action}"
    return by


def _focus_clock(msg: OutboxMessage) -> ClockView | None:
    running = [c for c in msg.clocks if not c.stopped]
    named = [c for c in running if c.name == msg.clock]
    pool = named or running
    return min(pool, key=lambda c: c.deadline) if pool else None


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


class IntentLike(Protocol):
    """The fields of monitor.domain.events.NotificationIntent this package reads."""

    # Read-only members, so the intent's StrEnum fields satisfy `str`.
    @property
    def key(self) -> str: ...
    @property
    def incident_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def grade(self) -> Grade | None: ...
    @property
    def roles(self) -> tuple[str, ...]: ...
    @property
    def bodies(self) -> tuple[str, ...]: ...
    @property
    def title(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def place(self) -> str | None: ...
    @property
    def clock(self) -> str | None: ...
    @property
    def deadline(self) -> datetime | None: ...
    @property
    def warning_before_min(self) -> int | None: ...


def from_intent(
    intent: IntentLike, clocks: tuple[ClockView, ...] = (), link: str | None = None
) -> OutboxMessage:
    """Map the incident domain's NotificationIntent onto an OutboxMessage.

    `clocks` are the incident's running clocks when the caller has them (the read model);
    without them the intent's own deadline is the one clock shown.
    """
    if not clocks and intent.clock and intent.deadline:
        clocks = (ClockView(name=intent.clock, deadline=intent.deadline),)
    return OutboxMessage(
        key=intent.key, incident_id=intent.incident_id, step=Step(intent.step),
        grade=intent.grade, at=intent.at, title=intent.title, place=intent.place,
        bodies=intent.bodies, category=intent.category, clocks=clocks, clock=intent.clock,
        warning_before_min=intent.warning_before_min,
        roles=tuple(Role(r) for r in intent.roles), link=link,
    )  # fmt: skip


class StateClockLike(Protocol):
    """The fields of monitor.domain.state.ClockView this package reads."""

    @property
    def rule(self) -> str: ...
    @property
    def deadline(self) -> datetime: ...
    @property
    def status(self) -> str: ...


def clock_views(views: Iterable[StateClockLike]) -> tuple[ClockView, ...]:
    """The incident's clocks as a message shows them: met ones are done, breached ones overdue."""
    return tuple(
        ClockView(name=v.rule, deadline=v.deadline, stopped=v.status in ("met", "late"))
        for v in views
    )
