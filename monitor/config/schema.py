"""The city configuration: everything about a city lives here, none of it in code.

Structure is checked by pydantic; the rules that span fields (a town under two counties,
thresholds out of order, a category naming a department nobody declared) are checked in
`semantic_issues`, which reports every problem with its path.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from monitor.config.sections import (
    ClocksSection,
    EscalationSection,
    EvidenceSection,
    OfficialAccount,
    section_issues,
)
from monitor.domain.model import Grade

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Code = Annotated[str, StringConstraints(pattern=r"^\d{2,12}$")]

CATEGORY_KEYS = (
    "aviation", "water_works", "work_safety", "fire", "traffic_accident", "transport",
    "natural_disaster", "environment",
    "public_health", "food_drug", "market", "housing", "land", "public_security", "education",
    "labor", "tourism", "livelihood_funds", "soe", "public_resources", "none",
)  # fmt: skip


NONE_KEY = "none"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Town(Strict):
    name: Name
    code: Code | None = None
    aliases: tuple[Name, ...] = ()


class LegacyTown(Strict):
    """An older town name still seen in posts; `now` is today's town when known."""

    name: Name
    now: Name | None = None


class County(Strict):
    name: Name
    code: Code | None = None
    body: Name
    aliases: tuple[Name, ...] = ()
    towns: tuple[Town, ...] = ()
    legacy_towns: tuple[LegacyTown, ...] = ()


class Jurisdiction(Strict):
    name: Name
    code: Code
    province: Name
    province_code: Code
    aliases: tuple[Name, ...] = ()
    counties: tuple[County, ...] = Field(min_length=1)


class Department(Strict):
    name: Name
    aliases: tuple[Name, ...] = ()


class Phrase(Strict):
    """Terms that together say more than apart, e.g. 学生 + 中毒."""

    all: tuple[Name, ...] = Field(min_length=2)
    weight: float


class CategoryModel(Strict):
    label: Name
    department: Name | None = None
    with_: tuple[Name, ...] = Field(default=(), alias="with")
    terms: dict[Name, float] = Field(default_factory=dict)
    phrases: tuple[Phrase, ...] = ()


class Thresholds(Strict):
    """Lower bounds, inclusive ("以上" includes the number)."""

    deaths: int = Field(ge=1)
    serious_injuries: int = Field(ge=1)
    loss_yuan: int = Field(ge=1)


class Grading(Strict):
    plain_injury_is_serious: bool = True
    thresholds: dict[Grade, Thresholds]


class ClassifierSettings(Strict):
    """`min_score`: the weight a category needs to call a post an incident (hand-set terms).
    `model`: a learned keyword model file (monitor/config/model.py), relative to the city file;
    with it, the terms and the incident decision are the model's, not the categories'."""

    min_score: float = Field(default=3.0, gt=0)
    top_keywords: int = Field(default=5, ge=1, le=50)
    # event triggers, not-incident context and not_terms (monitor/config/lexicon.py); relative
    # to the city file; default the packaged monitor/config/triggers.yaml
    triggers: str | None = None
    model: Name | None = None


class CityConfig(Strict):
    version: int = 1
    jurisdiction: Jurisdiction
    departments: tuple[Department, ...]
    categories: dict[str, CategoryModel]
    grading: Grading
    classifier: ClassifierSettings = ClassifierSettings()
    # typed in monitor/config/sections.py, which builds the domain's policies from them
    clocks: ClocksSection = ClocksSection()
    escalation: EscalationSection = EscalationSection()  # contacts live in its ladder file
    official_accounts: tuple[OfficialAccount, ...] = ()
    evidence: EvidenceSection = EvidenceSection()
    # read by nothing in the city file: kept only to say where contacts live
    contacts: Any = None

    def department_names(self) -> set[str]:
        return {d.name for d in self.departments}

    def bodies(self) -> set[str]:
        """Every body the city can assign: departments and county-level governments."""
        return self.department_names() | {c.body for c in self.jurisdiction.counties}


ConfigPath = tuple[str | int, ...]
Issues = Iterator[tuple[ConfigPath, str]]


def semantic_issues(cfg: CityConfig) -> Issues:
    """Cross-field rules. Yields (path, reason) for each broken one."""
    yield from _category_issues(cfg)
    yield from _town_issues(cfg)
    yield from _threshold_issues(cfg)
    yield from section_issues(cfg.clocks, cfg.evidence, cfg.official_accounts, cfg.bodies())
    if cfg.contacts is not None:
        yield ("contacts",), (
            "contacts live in the escalation file (the city's escalation.ladder, default "
            "monitor/notify/ziyang_escalation.yaml), not in the city config"
        )


def _category_issues(cfg: CityConfig) -> Issues:
    known = cfg.department_names()
    for key, model in cfg.categories.items():
        here: ConfigPath = ("categories", key)
        if key not in CATEGORY_KEYS:
            yield here, f"unknown category {key!r}; known: {', '.join(CATEGORY_KEYS)}"
            continue
        if key != NONE_KEY and model.department is None:
            yield (*here, "department"), "missing department"
        if model.department is not None and model.department not in known:
            reason = f"department {model.department!r} is not declared under departments"
            yield (*here, "department"), reason
        for i, other in enumerate(model.with_):
            if other not in known:
                yield (*here, "with", i), f"department {other!r} is not declared"
        if cfg.classifier.model is not None:
            if model.terms or model.phrases:
                yield (*here, "terms"), (
                    f"terms come from the model file {cfg.classifier.model}; keep them there"
                )
        elif not model.terms:
            yield (*here, "terms"), "a category needs at least one term"
    if NONE_KEY not in cfg.categories:
        yield ("categories",), "the `none` category (what is not an incident) is required"
    if cfg.classifier.model is not None and "min_score" in cfg.classifier.model_fields_set:
        yield ("classifier", "min_score"), (
            f"min_score comes from the model file {cfg.classifier.model}; keep it there"
        )


def _town_issues(cfg: CityConfig) -> Issues:
    county_of: dict[str, str] = {}
    town_of_code: dict[str, str] = {}
    city = cfg.jurisdiction.code
    for ci, county in enumerate(cfg.jurisdiction.counties):
        here: ConfigPath = ("jurisdiction", "counties", ci)
        if county.code and not county.code.startswith(city):
            yield (*here, "code"), f"county code {county.code} is not under city code {city}"
        for ti, town in enumerate(county.towns):
            at: ConfigPath = (*here, "towns", ti)
            if town.name in county_of:
                where = f"{county_of[town.name]} and {county.name}"
                yield at, f"town {town.name!r} is listed under {where}"
            county_of.setdefault(town.name, county.name)
            if not town.code:
                continue
            if town.code in town_of_code:
                yield (*at, "code"), f"code {town.code} is also {town_of_code[town.code]}'s"
            town_of_code.setdefault(town.code, town.name)
            if county.code and not town.code.startswith(county.code):
                yield (*at, "code"), f"code {town.code} is not under county {county.code}"
        current = {t.name for t in county.towns}
        for li, legacy in enumerate(county.legacy_towns):
            if legacy.now is not None and legacy.now not in current:
                reason = f"{legacy.now!r} is not a current town of {county.name}"
                yield (*here, "legacy_towns", li, "now"), reason


def _threshold_issues(cfg: CityConfig) -> Issues:
    table = cfg.grading.thresholds
    for needed in (Grade.I, Grade.II, Grade.III):
        if needed not in table:
            yield ("grading", "thresholds"), f"missing thresholds for grade {needed.value}"
    ordered = [g for g in (Grade.I, Grade.II, Grade.III) if g in table]
    for graver, lesser in itertools.pairwise(ordered):
        for field in ("deaths", "serious_injuries", "loss_yuan"):
            hi, lo = getattr(table[graver], field), getattr(table[lesser], field)
            if hi <= lo:
                yield (
                    ("grading", "thresholds", lesser.value, field),
                    f"out of order: grade {lesser.value} {field} {lo} must be below "
                    f"grade {graver.value} {field} {hi}",
                )
