"""Incident policy: clock rules, heat thresholds and assignment settings, frozen and versioned.

`IncidentParams.from_mapping(cfg.clocks)` validates the free-form `clocks:` section of the city
config and names the path of every bad value. Everything has a default from DESIGN.md §1–§2, so
`IncidentParams()` is the documented policy.

The clock policy is copied into each incident when it opens (OnCall freezes its escalation
chain the same way): editing the config later does not move a running incident's deadlines.
`ClockPolicy.version` is a digest of the rules unless the config names one (`version:`).

Config shape (every key optional; durations are seconds or strings such as "5h", "30m", "1h30m"):

    clocks:
      version: "2024-01"
      start: first_post            # or reached_grade: I/II clocks start when it reached II
      release:          {after: 5h,  warnings: [2h, 1h, 30m]}
      press_conference: {after: 24h, warnings: [4h, 1h]}
      follow_up:        {after: 24h, warnings: [4h, 1h]}
      answer:           {after: 48h, warnings: [4h, 1h], grades: [III, IV]}
      unacknowledged_after: 30m
      future_skew: 5m              # a post's time is trusted up to its arrival plus this
      heat:
        window: 1h
        cap: II
        III: {posts: 20, reach: 1000000, velocity: 10, media: 3}
        II:  {posts: 200, reach: 10000000, velocity: 100, media: 10}
      incidents:
        window: 72h
        similarity: 0.25
        near_duplicate: 0.75
        families: {safety: [work_safety, fire, traffic_accident, natural_disaster, transport]}
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from monitor.domain.model import Grade

HOUR = 3600
SEVERE = (Grade.I, Grade.II)
MINOR = (Grade.III, Grade.IV)
PUBLISHING = ("release", "press_conference", "follow_up")


class ParamsError(ValueError):
    """A bad value in the `clocks:` config section; `path` says where."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ClockRule(msgspec.Struct, frozen=True, kw_only=True):
    """One response clock. `repeat` clocks re-arm from each stop (follow-up releases)."""

    name: str
    label: str
    grades: tuple[Grade, ...]
    after_s: int
    warnings_s: tuple[int, ...]
    stopped_by: tuple[str, ...]
    repeat: bool = False

    @property
    def severe(self) -> bool:
        return any(g in SEVERE for g in self.grades)


DEFAULT_RULES = (
    ClockRule(
        name="release", label="权威信息发布", grades=SEVERE, after_s=5 * HOUR,
        warnings_s=(2 * HOUR, HOUR, HOUR // 2), stopped_by=("release", "press_conference"),
    ),
    ClockRule(
        name="press_conference", label="新闻发布会", grades=SEVERE, after_s=24 * HOUR,
        warnings_s=(4 * HOUR, HOUR), stopped_by=("press_conference",),
    ),
    ClockRule(
        name="follow_up", label="持续发布权威信息", grades=SEVERE, after_s=24 * HOUR,
        warnings_s=(4 * HOUR, HOUR), stopped_by=PUBLISHING, repeat=True,
    ),
    ClockRule(
        name="answer", label="回应关切", grades=MINOR, after_s=48 * HOUR,
        warnings_s=(4 * HOUR, HOUR), stopped_by=PUBLISHING,
    ),
)  # fmt: skip


class ClockPolicy(msgspec.Struct, frozen=True, kw_only=True):
    rules: tuple[ClockRule, ...] = DEFAULT_RULES
    start: Literal["first_post", "reached_grade"] = "first_post"
    unacknowledged_after_s: int = HOUR // 2
    name: str = ""  # a version the config names; else `version` is a digest of the rules

    @property
    def version(self) -> str:
        if self.name:
            return self.name
        return "clk-" + hashlib.sha1(msgspec.json.encode(self)).hexdigest()[:10]

    def rule(self, name: str) -> ClockRule:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


class HeatRule(msgspec.Struct, frozen=True, kw_only=True):
    """Heat that raises an incident to `grade`: any one criterion met is enough."""

    grade: Grade
    posts: int | None = None
    reach: int | None = None
    velocity: float | None = None  # posts per hour within HeatPolicy.window_s
    media: int | None = None  # posts by media sources or verified authors


class HeatPolicy(msgspec.Struct, frozen=True, kw_only=True):
    rules: tuple[HeatRule, ...] = (
        HeatRule(grade=Grade.III, posts=20, reach=1_000_000, velocity=10, media=3),
        HeatRule(grade=Grade.II, posts=200, reach=10_000_000, velocity=100, media=10),
    )
    window_s: int = HOUR
    cap: Grade = Grade.II
    media_sources: tuple[str, ...] = ("news", "rss", "media")

    @property
    def velocity_keep(self) -> int:
        """How many recent post times must be kept to test the highest velocity threshold."""
        top = max((r.velocity for r in self.rules if r.velocity is not None), default=0.0)
        return int(top * self.window_s / HOUR) + 1


DEFAULT_FAMILIES: dict[str, tuple[str, ...]] = {
    # Accidents are often filed under a neighbour: a chemical-plant blast is work safety and
    # fire, a bus crash is transport and traffic accident. One family keeps them one incident.
    "safety": ("work_safety", "fire", "traffic_accident", "natural_disaster", "transport"),
    "health": ("public_health", "food_drug"),
    "housing_land": ("housing", "land"),
}


class AssignPolicy(msgspec.Struct, frozen=True, kw_only=True):
    window_s: int = 72 * HOUR
    similarity: float = 0.25  # benchmarks/incident_similarity.py: 80% recall, 17% false on CEC
    near_duplicate: float = 0.75
    families: dict[str, tuple[str, ...]] = msgspec.field(
        default_factory=lambda: dict(DEFAULT_FAMILIES)
    )
    # Post records kept in state (repost matching, split). Beyond this only the counts grow:
    # state is re-encoded on every post, and 2,000 members cost 2 ms per encode+decode.
    max_members: int = 300
    max_texts: int = 6  # texts kept to compare new posts against

    def family(self, category: str) -> str:
        for name, members in self.families.items():
            if category in members:
                return name
        return category


FUTURE_SKEW_S = 300


class IncidentParams(msgspec.Struct, frozen=True, kw_only=True):
    clocks: ClockPolicy = ClockPolicy()
    heat: HeatPolicy = HeatPolicy()
    assign: AssignPolicy = AssignPolicy()
    # A post's times are trusted up to when the monitor took it in plus this much (sources'
    # clocks differ a little); config `clocks.future_skew`. See incidents.bound_times.
    future_skew_s: int = FUTURE_SKEW_S

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, where: str = "clocks") -> IncidentParams:
        return _parse_params(dict(data or {}), where)


# --- parsing ---------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|m|s)")
_UNIT = {"d": 86400, "h": 3600, "min": 60, "m": 60, "s": 1}


def parse_duration(value: object, path: str) -> int:
    """Seconds from an int or a string like "5h", "30min", "1h30m"."""
    if isinstance(value, bool):
        raise ParamsError(path, f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        parts = _DURATION.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ParamsError(path, f"bad duration {value!r}; write e.g. 5h, 30m, 1h30m, 90s")
        seconds = sum(float(n) * _UNIT[u] for n, u in parts)
    else:
        raise ParamsError(path, f"expected a duration such as 5h or 30m, got {value!r}")
    if seconds <= 0:
        raise ParamsError(path, f"a duration must be positive, got {value!r}")
    return int(seconds)


def _mapping(value: object, path: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParamsError(path, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ParamsError(
            f"{path}.{unknown[0]}", f"unknown key; known: {', '.join(sorted(allowed))}"
        )
    return dict(value)


def _grade(value: object, path: str) -> Grade:
    try:
        return Grade(str(value))
    except ValueError:
        raise ParamsError(path, f"unknown grade {value!r}; use I, II, III or IV") from None


def _number(value: object, path: str, kind: type[int] | type[float]) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ParamsError(path, f"expected a non-negative number, got {value!r}")
    if kind is int and not float(value).is_integer():
        raise ParamsError(path, f"expected a whole number, got {value!r}")
    return float(value)


_RULE_KEYS = {"after", "warnings", "grades", "stopped_by"}
_TOP_KEYS = {
    "version", "start", "unacknowledged_after", "leader_warning", "heat", "incidents",
    "future_skew",
    *(r.name for r in DEFAULT_RULES),
}  # fmt: skip


def _parse_rule(base: ClockRule, raw: object, path: str) -> ClockRule:
    data = _mapping(raw, path, _RULE_KEYS)
    after = parse_duration(data["after"], f"{path}.after") if "after" in data else base.after_s
    warnings = base.warnings_s
    if "warnings" in data:
        if not isinstance(data["warnings"], list | tuple):
            raise ParamsError(
                f"{path}.warnings", "expected a list of durations before the deadline"
            )
        warnings = tuple(
            parse_duration(w, f"{path}.warnings[{i}]") for i, w in enumerate(data["warnings"])
        )
    for i, w in enumerate(warnings):
        if w >= after:
            raise ParamsError(
                f"{path}.warnings[{i}]", f"warning {w}s is not before the deadline ({after}s)"
            )
    grades = base.grades
    if "grades" in data:
        grades = tuple(_grade(g, f"{path}.grades[{i}]") for i, g in enumerate(data["grades"]))
    stopped_by = base.stopped_by
    if "stopped_by" in data:
        stopped_by = tuple(str(s) for s in data["stopped_by"])
        for i, s in enumerate(stopped_by):
            if s not in PUBLISHING:
                raise ParamsError(
                    f"{path}.stopped_by[{i}]", f"{s!r} is not one of {', '.join(PUBLISHING)}"
                )
    return msgspec.structs.replace(
        base, after_s=after, warnings_s=tuple(sorted(set(warnings), reverse=True)),
        grades=grades, stopped_by=stopped_by,
    )  # fmt: skip


def _parse_params(data: dict[str, Any], where: str) -> IncidentParams:
    if "leader_warning" in data:
        raise ParamsError(
            f"{where}.leader_warning", "who hears of a warning is the escalation file's to say "
            "(a route matching warning_before_min), not the clocks'",
        )  # fmt: skip
    data = _mapping(data, where, _TOP_KEYS)
    rules = tuple(
        _parse_rule(rule, data[rule.name], f"{where}.{rule.name}") if rule.name in data else rule
        for rule in DEFAULT_RULES
    )
    start = data.get("start", "first_post")
    if start not in ("first_post", "reached_grade"):
        raise ParamsError(f"{where}.start", f"expected first_post or reached_grade, got {start!r}")
    base = ClockPolicy()
    clocks = ClockPolicy(
        rules=rules,
        start=start,
        unacknowledged_after_s=_duration_or(
            data, "unacknowledged_after", where, base.unacknowledged_after_s
        ),
        name=str(data.get("version") or ""),
    )  # fmt: skip
    heat = _parse_heat(data.get("heat"), f"{where}.heat")
    assign = _parse_assign(data.get("incidents"), f"{where}.incidents")
    skew = _duration_or(data, "future_skew", where, FUTURE_SKEW_S)
    return IncidentParams(clocks=clocks, heat=heat, assign=assign, future_skew_s=skew)


def _duration_or(data: Mapping[str, Any], key: str, where: str, default: int) -> int:
    return parse_duration(data[key], f"{where}.{key}") if key in data else default


def _parse_heat(raw: object, path: str) -> HeatPolicy:
    grades = {g.value for g in Grade}
    data = _mapping(raw, path, {"window", "cap", "media_sources", *grades})
    base = HeatPolicy()
    cap = _grade(data["cap"], f"{path}.cap") if "cap" in data else base.cap
    rules = list(base.rules)
    for key in sorted(grades & set(data), key=lambda g: Grade(g).rank):
        grade = Grade(key)
        if grade.rank > cap.rank:
            raise ParamsError(
                f"{path}.{key}", f"heat may raise a grade only up to {cap.value} (cap)"
            )
        rules = [r for r in rules if r.grade != grade] + [
            _parse_heat_rule(grade, data[key], f"{path}.{key}")
        ]
    rules.sort(key=lambda r: r.grade.rank)
    return HeatPolicy(
        rules=tuple(rules),
        window_s=_duration_or(data, "window", path, base.window_s),
        cap=cap,
        media_sources=tuple(str(s) for s in data.get("media_sources", base.media_sources)),
    )


def _parse_heat_rule(grade: Grade, raw: object, path: str) -> HeatRule:
    data = _mapping(raw, path, {"posts", "reach", "velocity", "media"})
    if not data:
        raise ParamsError(path, "a heat rule needs at least one of posts, reach, velocity, media")
    ints = {
        k: int(_number(data[k], f"{path}.{k}", int))
        for k in ("posts", "reach", "media")
        if k in data
    }
    velocity = _number(data["velocity"], f"{path}.velocity", float) if "velocity" in data else None
    return HeatRule(grade=grade, velocity=velocity, **ints)


def _parse_assign(raw: object, path: str) -> AssignPolicy:
    data = _mapping(
        raw, path, {"window", "similarity", "near_duplicate", "families", "max_members"}
    )
    base = AssignPolicy()
    values: dict[str, Any] = {}
    if "window" in data:
        values["window_s"] = parse_duration(data["window"], f"{path}.window")
    for key in ("similarity", "near_duplicate"):
        if key in data:
            value = _number(data[key], f"{path}.{key}", float)
            if value > 1:
                raise ParamsError(f"{path}.{key}", f"a similarity is between 0 and 1, got {value}")
            values[key] = value
    if "max_members" in data:
        values["max_members"] = int(_number(data["max_members"], f"{path}.max_members", int))
    if "families" in data:
        values["families"] = _parse_families(data["families"], f"{path}.families")
    return msgspec.structs.replace(base, **values)


def _parse_families(raw: object, path: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise ParamsError(path, "expected a mapping of family name to a list of categories")
    owner: dict[str, str] = {}
    families: dict[str, tuple[str, ...]] = {}
    for name, members in raw.items():
        if not isinstance(members, list | tuple) or not members:
            raise ParamsError(f"{path}.{name}", "expected a non-empty list of category keys")
        for i, category in enumerate(members):
            if category in owner:
                raise ParamsError(
                    f"{path}.{name}[{i}]", f"{category!r} is already in family {owner[category]!r}"
                )
            owner[str(category)] = str(name)
        families[str(name)] = tuple(str(c) for c in members)
    return families
