"""Who may do what to an incident, and with what evidence (DESIGN.md §2), defined once.

    refusal = authorize(role, body, kind, state)     None when allowed
    missing = evidence_missing(kind, fields)          the evidence a kind needs and lacks

| action             | who                                             | evidence           |
|--------------------|-------------------------------------------------|--------------------|
| acknowledge        | a responsible body, or duty staff on its behalf | —                  |
| release, follow_up | a responsible body, or duty staff on its behalf | url (+ channel)    |
| press_conference   | a responsible body, or duty staff on its behalf | url or place       |
| regrade            | duty staff                                      | grade and reason   |
| merge              | duty staff                                      | target and reason* |
| split              | duty staff                                      | post_ids, reason*  |
| close              | duty staff                                      | reason*            |

* asked of every new action (API, CLI); an action archived before it was asked still replays.

Leaders read everything and write nothing (`report_scope`: whose compliance figures one may
read); admin acts as duty staff. A department (`UserRole.DEPARTMENT`
with its `body`) answers only incidents that body is responsible for. The API, the CLI and the
dashboard all ask `authorize`; none keeps a copy of this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import msgspec

from monitor.domain.state import ActionKind, IncidentState


class UserRole(StrEnum):
    DUTY = "duty"  # 值班人员
    DEPARTMENT = "department"  # 责任单位
    LEADER = "leader"  # 领导（只读）
    ADMIN = "admin"  # 管理员（同值班人员）

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    UserRole.DUTY: "值班人员", UserRole.DEPARTMENT: "责任单位", UserRole.LEADER: "领导",
    UserRole.ADMIN: "管理员",
}  # fmt: skip


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """Fields an action must carry: every one of `all_of`, and at least one of `any_of`.
    `asked` is asked of every new action but is not needed to apply one: actions archived
    before it was asked (a close without a reason) still replay."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    asked: tuple[str, ...] = ()


class KindRule(msgspec.Struct, frozen=True, kw_only=True):
    """`answer`: an answer to the public, which the responsible bodies give (duty staff may
    record it on their behalf); otherwise the kind is duty staff's alone."""

    kind: ActionKind
    label: str
    answer: bool
    evidence: Evidence


RULES: Mapping[ActionKind, KindRule] = {
    r.kind: r
    for r in (
        KindRule(kind=ActionKind.ACKNOWLEDGE, label="确认收到", answer=True, evidence=Evidence()),
        KindRule(kind=ActionKind.RELEASE, label="权威信息发布", answer=True,
                 evidence=Evidence(all_of=("url",))),
        KindRule(kind=ActionKind.FOLLOW_UP, label="后续发布", answer=True,
                 evidence=Evidence(all_of=("url",))),
        KindRule(kind=ActionKind.PRESS_CONFERENCE, label="新闻发布会", answer=True,
                 evidence=Evidence(any_of=("url", "place"))),
        KindRule(kind=ActionKind.REGRADE, label="调整级别", answer=False,
                 evidence=Evidence(all_of=("grade", "reason"))),
        KindRule(kind=ActionKind.MERGE, label="合并", answer=False,
                 evidence=Evidence(all_of=("target",), asked=("reason",))),
        KindRule(kind=ActionKind.SPLIT, label="拆分", answer=False,
                 evidence=Evidence(all_of=("post_ids",), asked=("reason",))),
        KindRule(kind=ActionKind.CLOSE, label="关闭事件", answer=False,
                 evidence=Evidence(asked=("reason",))),
    )
}  # fmt: skip

# Who acts in their own right on any incident.
_DUTY = frozenset({UserRole.DUTY, UserRole.ADMIN})


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Why an action is not allowed, for the user (Chinese) and the log (English)."""

    zh: str
    en: str

    @property
    def message(self) -> str:
        return f"{self.zh} / forbidden: {self.en}"


def authorize(
    role: UserRole, body: str | None, kind: ActionKind, state: IncidentState
) -> Refusal | None:
    """None if `role` (with `body`, for a department) may record `kind` on `state`."""
    rule = RULES[ActionKind(kind)]
    if role in _DUTY:
        return None
    if role is UserRole.LEADER:
        return Refusal(zh="领导账号只读，不能登记处置", en="the leader role is read-only")
    if role is not UserRole.DEPARTMENT:
        return Refusal(zh=f"未知角色 {role}", en=f"unknown role {role!r}")
    if not rule.answer:
        return Refusal(
            zh=f"「{rule.label}」仅限值班人员登记",
            en=f"only duty staff may {kind.value} an incident",
        )
    if not body or body not in state.responsible.bodies:
        return Refusal(
            zh=f"无权处置：{body or '（未指明单位）'}不是该事件的责任单位",
            en=f"{body or 'a department without a body'} is not responsible for {state.id}",
        )
    return None


def is_duty(role: UserRole) -> bool:
    """Duty staff's powers (merge, split, close, regrade, share): duty staff and admins."""
    return role in _DUTY


def writes(role: UserRole) -> bool:
    """Whether the role records anything at all (leaders read only)."""
    return role is not UserRole.LEADER


def report_scope(
    role: UserRole, body: str | None, asked: str | None
) -> tuple[str | None, Refusal | None]:
    """Whose compliance figures a user may read (the leaders' view, `/api/reports/…`): duty,
    admin and leaders any body's, or all (None); a department only its own, asked or not."""
    if role is not UserRole.DEPARTMENT:
        return asked, None
    if asked is not None and asked != body:
        return None, Refusal(
            zh=f"无权查看：责任单位账号只能查看本单位（{body or '未指明单位'}）的回应情况",
            en=f"a department may read only its own body's figures, not {asked!r}",
        )
    return body, None


def may_act(role: UserRole, body: str | None, state: IncidentState) -> bool:
    """Whether the user may record anything at all on `state` (the dashboard's action form)."""
    return any(authorize(role, body, kind, state) is None for kind in RULES)


FIELD_LABELS = {"url": "链接 url", "place": "地点 place", "grade": "级别 grade",
                "reason": "理由 reason", "target": "保留的事件 target",
                "post_ids": "要拆出的帖子 post_ids"}  # fmt: skip


def evidence_refusal(
    kind: ActionKind, present: Mapping[str, object], new: bool = True
) -> Refusal | None:
    """The evidence `kind` needs that `present` (field → value) lacks; None when complete.
    Blank strings and empty lists count as missing. `new`: an action being recorded now (the
    edge asks for `asked` too); False when applying a recorded one."""
    kind = ActionKind(kind)
    rule = RULES[kind]
    need = rule.evidence
    given = {k for k, v in present.items() if _given(v)}
    lacking = [f for f in (*need.all_of, *(need.asked if new else ())) if f not in given]
    joiner = " and "
    if not lacking and need.any_of and not given.intersection(need.any_of):
        lacking, joiner = list(need.any_of), " or "
    if not lacking:
        return None
    zh_join = "或" if joiner == " or " else "和"
    return Refusal(
        zh=f"「{rule.label}」须填写{zh_join.join(FIELD_LABELS[f] for f in lacking)}",
        en=f"evidence required: {kind.value} needs {joiner.join(f'`{f}`' for f in lacking)}",
    )


def evidence_missing(
    kind: ActionKind, present: Mapping[str, object], new: bool = True
) -> str | None:
    """`evidence_refusal`'s English reason (the domain's ActionError)."""
    refusal = evidence_refusal(kind, present, new)
    return refusal.en if refusal is not None else None


def _given(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, tuple | list):
        return bool(value)
    return True
