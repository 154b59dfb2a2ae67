"""Typed sections of the city config that build the domain's frozen policies: `clocks`,
`evidence`, `official_accounts`, `escalation`.

One validation path: pydantic reads every value when the file loads (a bad one is reported with
file, line, path and reason, like every other section), `section_issues` checks the rules that
span fields, and the builders below turn the result into the domain's objects
(`IncidentParams`, `EvidencePolicy`, the accounts table). The domain parses nothing.

    clocks:
      version: "2024-01"
      start: first_post            # or reached_grade: I/II clocks start when it reached II
      release:          {after: 5h,  warnings: [2h, 1h, 30m]}
      press_conference: {after: 24h, warnings: [4h, 1h]}
      follow_up:        {after: 24h, warnings: [4h, 1h]}
      answer:           {after: 48h, warnings: [4h, 1h], grades: [III, IV]}
      unacknowledged_after: 30m
      future_skew: 5m              # how far ahead of our clock an outside time may lie
      heat: {window: 1h, cap: II, III: {posts: 20, …}, II: {posts: 200, …}}
      incidents: {window: 72h, similarity: 0.25, near_duplicate: 0.75, families: {…}}
    evidence: {auto_confirm: false, auto_confirm_at: 0.6, min_similarity: 0.25, window: 72h}
    official_accounts:
      - {department: 市应急管理局, weibo_uid: ["…"], wechat_biz: ["…"], feeds: [source names],
         push: [push source names]}
    escalation: {ladder: ziyang_escalation.yaml, public_url: https://…}

Durations are seconds or text such as 5h, 30m, 90s, 1h30m, 2d.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from monitor.domain.evidence import EvidencePolicy, OfficialAccounts
from monitor.domain.model import Grade
from monitor.domain.policy import (
    DEFAULT_RULES,
    AssignPolicy,
    ClockPolicy,
    ClockRule,
    HeatPolicy,
    HeatRule,
    IncidentParams,
)
from monitor.domain.state import ActionKind

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ConfigPath = tuple[str | int, ...]
Issues = Iterator[tuple[ConfigPath, str]]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(d|h|min|m|s)")
_UNIT = {"d": 86400, "h": 3600, "min": 60, "m": 60, "s": 1}


def _seconds(value: object) -> int:
    """Seconds from a whole number or text like 5h, 30min, 1h30m; never zero or negative."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 5h or 30m, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ValueError(f"bad duration {value!r}; write e.g. 5h, 30m, 1h30m, 90s")
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    else:
        raise ValueError(f"expected a duration such as 5h or 30m, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return int(seconds)


Duration = Annotated[int, BeforeValidator(_seconds)]
Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Publishing = Literal["release", "press_conference", "follow_up"]
assert set(Publishing.__args__) <= {k.value for k in ActionKind}  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- clocks -----------------------------------------------------------------------------------


class RuleSpec(Strict):
    after: Duration | None = None
    warnings: tuple[Duration, ...] | None = None
    grades: tuple[Grade, ...] | None = None
    stopped_by: tuple[Publishing, ...] | None = None


class HeatRuleSpec(Strict):
    """Any one criterion met raises the grade."""

    posts: Count | None = None
    reach: Count | None = None
    velocity: Annotated[float, Field(ge=0)] | None = None
    media: Count | None = None


class HeatSpec(Strict):
    window: Duration | None = None
    cap: Grade | None = None
    media_sources: tuple[Name, ...] | None = None
    I: HeatRuleSpec | None = None  # noqa: E741  (the grade's legal name)
    II: HeatRuleSpec | None = None
    III: HeatRuleSpec | None = None
    IV: HeatRuleSpec | None = None


class AssignSpec(Strict):
    window: Duration | None = None
    similarity: Share | None = None
    near_duplicate: Share | None = None
    families: dict[Name, tuple[Name, ...]] | None = None
    max_members: Annotated[int, Field(ge=1)] | None = None


class ClocksSection(Strict):
    version: Name | None = None
    start: Literal["first_post", "reached_grade"] = "first_post"
    release: RuleSpec | None = None
    press_conference: RuleSpec | None = None
    follow_up: RuleSpec | None = None
    answer: RuleSpec | None = None
    unacknowledged_after: Duration | None = None
    future_skew: Duration | None = None
    heat: HeatSpec = HeatSpec()
    incidents: AssignSpec = AssignSpec()
    # who hears of a warning is the escalation file's business; kept only to say so
    leader_warning: Any = None


# --- evidence, accounts, escalation -------------------------------------------------------------


class EvidenceSection(Strict):
    """`city_accounts`: bodies whose accounts speak for every body (the city government)."""

    min_similarity: Share = 0.25
    auto_confirm: bool = False
    auto_confirm_at: Share = 0.6
    window: Duration = 72 * 3600
    city_accounts: tuple[Name, ...] = ()


class OfficialAccount(Strict):
    """One body's own accounts: only posts from these count as its official evidence."""

    department: Name
    weibo_uid: tuple[Name, ...] = ()
    wechat_biz: tuple[Name, ...] = ()
    feeds: tuple[Name, ...] = ()  # source names (or feed URLs, for the connectors)
    push: tuple[Name, ...] = ()  # push sources that are this body's official channel


class EscalationSection(Strict):
    """`ladder`: the escalation file (who is told what), relative to this file; default the
    packaged Ziyang ladder. `public_url`: the dashboard's address as readers reach it, for
    links in notifications (none: messages carry no link)."""

    ladder: Name | None = None
    public_url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None


# --- cross-field rules ---------------------------------------------------------------------------


def section_issues(
    clocks: ClocksSection,
    evidence: EvidenceSection,
    accounts: tuple[OfficialAccount, ...],
    bodies: set[str],
) -> Issues:
    yield from _clock_issues(clocks)
    for i, body in enumerate(evidence.city_accounts):
        if body not in bodies:
            yield ("evidence", "city_accounts", i), f"{body!r} is not a body of this city"
    yield from _account_issues(accounts, bodies)


def _clock_issues(c: ClocksSection) -> Issues:
    if c.leader_warning is not None:
        yield ("clocks", "leader_warning"), (
            "who hears of a warning is the escalation file's to say (a route matching "
            "warning_before_min), not the clocks'"
        )
    for rule in DEFAULT_RULES:
        spec: RuleSpec | None = getattr(c, rule.name)
        if spec is None:
            continue
        after = spec.after or rule.after_s
        for i, w in enumerate(spec.warnings or ()):
            if w >= after:
                yield ("clocks", rule.name, "warnings", i), (
                    f"warning {w}s is not before the deadline ({after}s)"
                )
    cap = c.heat.cap or HeatPolicy().cap
    for g in Grade:
        if getattr(c.heat, g.value) is None:
            continue
        if g.rank > cap.rank:
            yield ("clocks", "heat", g.value), f"heat raises a grade only up to {cap.value} (cap)"
        elif getattr(c.heat, g.value) == HeatRuleSpec():
            yield ("clocks", "heat", g.value), (
                "a heat rule needs at least one of posts, reach, velocity, media"
            )
    owner: dict[str, str] = {}
    for name, members in (c.incidents.families or {}).items():
        if not members:
            yield ("clocks", "incidents", "families", name), "expected a non-empty list"
        for i, category in enumerate(members):
            if category in owner:
                yield ("clocks", "incidents", "families", name, i), (
                    f"{category!r} is already in family {owner[category]!r}"
                )
            owner.setdefault(category, name)


def _account_issues(accounts: tuple[OfficialAccount, ...], bodies: set[str]) -> Issues:
    seen: dict[tuple[str, str], str] = {}
    for i, acc in enumerate(accounts):
        if acc.department not in bodies:
            yield ("official_accounts", i, "department"), (
                f"{acc.department!r} is not a body of this city (departments or counties)"
            )
        if not (acc.weibo_uid or acc.wechat_biz or acc.feeds or acc.push):
            yield ("official_accounts", i), "name at least one weibo_uid, wechat_biz, feed or push"
        for kind in ("weibo_uid", "wechat_biz", "feeds", "push"):
            for j, ident in enumerate(getattr(acc, kind)):
                other = seen.setdefault((kind, ident), acc.department)
                if other != acc.department:
                    yield ("official_accounts", i, kind, j), (
                        f"{ident!r} is already {other}'s: one account speaks for one body"
                    )


# --- builders ---------------------------------------------------------------------------------


def incident_params(c: ClocksSection) -> IncidentParams:
    """The domain's frozen policy from a validated section (defaults: DESIGN.md §1–§2)."""
    base = ClockPolicy()
    clocks = ClockPolicy(
        rules=tuple(_rule(r, getattr(c, r.name)) for r in DEFAULT_RULES),
        start=c.start,
        unacknowledged_after_s=c.unacknowledged_after or base.unacknowledged_after_s,
        name=c.version or "",
    )
    skew = c.future_skew or IncidentParams().future_skew_s
    return IncidentParams(
        clocks=clocks, heat=_heat(c.heat), assign=_assign(c.incidents), future_skew_s=skew
    )


def _rule(base: ClockRule, spec: RuleSpec | None) -> ClockRule:
    if spec is None:
        return base
    warnings = base.warnings_s if spec.warnings is None else spec.warnings
    return msgspec.structs.replace(
        base, after_s=spec.after or base.after_s,
        warnings_s=tuple(sorted(set(warnings), reverse=True)),
        grades=spec.grades if spec.grades is not None else base.grades,
        stopped_by=spec.stopped_by if spec.stopped_by is not None else base.stopped_by,
    )  # fmt: skip


def _heat(h: HeatSpec) -> HeatPolicy:
    base = HeatPolicy()
    rules = {r.grade: r for r in base.rules}
    for g in Grade:
        spec: HeatRuleSpec | None = getattr(h, g.value)
        if spec is not None:
            rules[g] = HeatRule(grade=g, **spec.model_dump())
    return HeatPolicy(
        rules=tuple(sorted(rules.values(), key=lambda r: r.grade.rank)),
        window_s=h.window or base.window_s,
        cap=h.cap or base.cap,
        media_sources=h.media_sources if h.media_sources is not None else base.media_sources,
    )


def _assign(a: AssignSpec) -> AssignPolicy:
    values: dict[str, Any] = {}
    if a.window is not None:
        values["window_s"] = a.window
    for key in ("similarity", "near_duplicate", "max_members"):
        if getattr(a, key) is not None:
            values[key] = getattr(a, key)
    if a.families is not None:
        values["families"] = dict(a.families)
    return msgspec.structs.replace(AssignPolicy(), **values)


def accounts_table(accounts: tuple[OfficialAccount, ...]) -> OfficialAccounts:
    def table(kind: str) -> Mapping[str, str]:
        return {ident: a.department for a in accounts for ident in getattr(a, kind)}

    return OfficialAccounts(
        weibo=table("weibo_uid"), wechat=table("wechat_biz"), feeds=table("feeds"),
        push=table("push"),
    )  # fmt: skip


def evidence_policy(e: EvidenceSection, accounts: tuple[OfficialAccount, ...]) -> EvidencePolicy:
    return EvidencePolicy(
        min_similarity=e.min_similarity, auto_confirm=e.auto_confirm,
        auto_confirm_at=e.auto_confirm_at, window=timedelta(seconds=e.window),
        city_accounts=frozenset(e.city_accounts), accounts=accounts_table(accounts),
    )  # fmt: skip
