"""Incident policy: clock rules, heat thresholds and assignment settings, frozen and versioned.

Everything has a default from DESIGN.md §1–§2, so `IncidentParams()` is the documented policy.
The city config's `clocks:` section is read and validated by monitor/config/sections.py, which
builds these objects (`monitor.config.incident_params(cfg)`); nothing here parses.

The clock policy is copied into each incident when it opens (OnCall freezes its escalation
chain the same way): editing the config later does not move a running incident's deadlines.
`ClockPolicy.version` is a digest of the rules unless the config names one (`version:`).
"""

from __future__ import annotations

import hashlib
from typing import Literal

import msgspec

from monitor.domain.model import Grade

HOUR = 3600
SEVERE = (Grade.I, Grade.II)
MINOR = (Grade.III, Grade.IV)
PUBLISHING = ("release", "press_conference", "follow_up")


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
    "safety": (
        "aviation", "water_works", "work_safety", "fire", "traffic_accident",
        "natural_disaster", "transport",
    ),
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

