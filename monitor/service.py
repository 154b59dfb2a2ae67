"""The classify service: a post in, a Classification out. Wires config into the pure core."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from monitor.config.gazetteer import build_gazetteer
from monitor.config.lexicon import event_lexicon
from monitor.config.model import LearnedModel, load_model
from monitor.config.schema import CityConfig
from monitor.domain.classify import KeywordModel
from monitor.domain.detect import Detection, Detector, EventLexicon
from monitor.domain.extract import extract_casualties
from monitor.domain.grading import Thresholds, grade_facts
from monitor.domain.model import Casualties, Classification, Grade, Post, Responsible
from monitor.domain.places import Gazetteer, locate
from monitor.domain.routing import Department, RoutingTable, responsible
from monitor.nlp.scanners import AhoScanner, JiebaScanner, Scanner

Engine = Literal["fast", "jieba"]


def keyword_model(cfg: CityConfig, learned: LearnedModel | None = None) -> KeywordModel:
    """The city's keyword model: the learned model file it names (or `learned`, a model in
    memory, as `monitor learn` and `monitor eval` pass), else its categories' own terms."""
    settings = cfg.classifier
    if learned is None and settings.model is not None:
        learned = load_model(settings.model, set(cfg.categories))
    if learned is not None:
        cats, min_score = learned.categories, learned.min_score
    else:
        cats, min_score = cfg.categories, settings.min_score  # type: ignore[assignment]
    terms = {key: dict(m.terms) for key, m in cats.items()}
    phrases = {key: [(p.all, p.weight) for p in m.phrases] for key, m in cats.items()}
    return KeywordModel.build(terms, phrases, min_score, settings.top_keywords)


def routing_table(cfg: CityConfig) -> RoutingTable:
    departments = {
        key: Department(m.department, m.with_)
        for key, m in cfg.categories.items()
        if m.department is not None
    }
    bodies = {c.name: c.body for c in cfg.jurisdiction.counties}
    return RoutingTable(departments, bodies)


class Classifier:
    def __init__(
        self, cfg: CityConfig, gazetteer: Gazetteer, engine: Engine = "fast",
        learned: LearnedModel | None = None,
    ) -> None:  # fmt: skip
        self.model = keyword_model(cfg, learned)
        self.lexicon: EventLexicon = event_lexicon(cfg)
        self.detector = Detector(self.model, self.lexicon)
        self.labels = {key: m.label for key, m in cfg.categories.items()}
        self.gazetteer = gazetteer
        self.routing = routing_table(cfg)
        self.thresholds = {
            g: Thresholds(t.deaths, t.serious_injuries, t.loss_yuan)
            for g, t in cfg.grading.thresholds.items()
        }
        self.plain_injury_is_serious = cfg.grading.plain_injury_is_serious
        terms = self.model.vocabulary | self.lexicon.vocabulary
        not_terms = self.lexicon.not_terms
        self.scanner: Scanner = (
            AhoScanner.with_boundaries(terms, gazetteer.names, not_terms)
            if engine == "fast"
            else JiebaScanner(terms | gazetteer.names, not_terms)
        )

    @classmethod
    def from_config(
        cls, cfg: CityConfig, engine: Engine = "fast", learned: LearnedModel | None = None
    ) -> Classifier:
        return cls(cfg, build_gazetteer(cfg), engine, learned)

    def classify(self, post: Post) -> Classification:
        return self.classify_text(post.id, post.full_text)

    def explain(self, text: str) -> tuple[Detection, Classification]:
        """The decision with its reasons (`monitor route`), and the classification."""
        hits = self.scanner.hits(text)
        casualties = extract_casualties(text, self.plain_injury_is_serious)
        detection = self.detector.detect([t for t, _ in hits], casualties)
        return detection, self._classification("route", hits, detection, casualties)

    def classify_text(self, post_id: str, text: str) -> Classification:
        hits = self.scanner.hits(text)
        casualties = extract_casualties(text, self.plain_injury_is_serious)
        detection = self.detector.detect([t for t, _ in hits], casualties)
        return self._classification(post_id, hits, detection, casualties)

    def _classification(
        self,
        post_id: str,
        hits: list[tuple[str, int]],
        detection: Detection,
        casualties: Casualties,
    ) -> Classification:
        result = detection.result
        location = locate(hits, self.gazetteer)
        grade: Grade | None = None
        basis: str | None = None
        duty = Responsible()
        if result.is_incident:
            decision = grade_facts(casualties, self.thresholds)
            grade, basis = decision.grade, decision.basis
            duty = responsible(result.category, grade, location, self.routing)
        return Classification(
            post_id=post_id,
            is_incident=result.is_incident,
            category=result.category,
            confidence=result.confidence,
            keywords=result.keywords,
            casualties=casualties,
            location=location,
            grade=grade,
            grade_basis=basis,
            responsible=duty,
        )


class _Casualties(msgspec.Struct):
    deaths: int | None
    missing: int | None
    injured: int | None
    trapped: int | None
    loss_yuan: int | None
    serious_injured: int | None
    lower_bounds: list[str]
    uncertain: list[str]


class _Location(msgspec.Struct):
    in_jurisdiction: bool | None
    province: str | None
    city: str | None
    county: str | None
    county_code: str | None
    town: str | None
    town_code: str | None
    places: list[str]
    province_code: str | None
    city_code: str | None


class _Responsible(msgspec.Struct):
    level: str | None
    lead: str | None
    co: list[str]
    bodies: list[str]


class ContractRecord(msgspec.Struct):
    """The `monitor classify` output object (the contract other tools rely on), field by field
    in the order it is written. A Struct: msgspec encodes it without building dicts first."""

    id: str
    is_incident: bool
    category: str
    confidence: float
    keywords: list[str]
    casualties: _Casualties
    location: _Location
    grade: str | None
    grade_basis: str | None
    responsible: _Responsible


def contract_record(c: Classification) -> ContractRecord:
    cas, loc, duty = c.casualties, c.location, c.responsible
    return ContractRecord(
        c.post_id, c.is_incident, c.category, c.confidence, list(c.keywords),
        _Casualties(
            cas.deaths, cas.missing, cas.injured, cas.trapped, cas.loss_yuan,
            cas.serious_injured, list(cas.lower_bounds), list(cas.uncertain),
        ),
        _Location(
            loc.in_jurisdiction, loc.province, loc.city, loc.county, loc.county_code, loc.town,
            loc.town_code, list(loc.places), loc.province_code, loc.city_code,
        ),
        c.grade.value if c.grade else None,
        c.grade_basis,
        _Responsible(duty.level, duty.lead, list(duty.co), list(duty.bodies)),
    )  # fmt: skip


def contract(c: Classification) -> dict[str, Any]:
    """The contract object as plain JSON-ready data."""
    out: dict[str, Any] = msgspec.to_builtins(contract_record(c))
    return out
