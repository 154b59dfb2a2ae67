"""The classify service: a post in, a Classification out. Wires config into the pure core."""

from __future__ import annotations

from typing import Any, Literal

from monitor.config.gazetteer import build_gazetteer
from monitor.config.lexicon import event_lexicon
from monitor.config.model import LearnedModel, load_model
from monitor.config.schema import CityConfig
from monitor.domain.classify import KeywordModel
from monitor.domain.detect import Detection, Detector, EventLexicon
from monitor.domain.extract import extract_casualties
from monitor.domain.grading import Thresholds, grade_facts
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
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


def contract(c: Classification) -> dict[str, Any]:
    """The `monitor classify` output object (the contract other tools rely on)."""
    cas, loc, duty = c.casualties, c.location, c.responsible
    return {
        "id": c.post_id,
        "is_incident": c.is_incident,
        "category": c.category,
        "confidence": c.confidence,
        "keywords": list(c.keywords),
        "casualties": {
            "deaths": cas.deaths,
            "missing": cas.missing,
            "injured": cas.injured,
            "trapped": cas.trapped,
            "loss_yuan": cas.loss_yuan,
            "serious_injured": cas.serious_injured,
            "lower_bounds": list(cas.lower_bounds),
            "uncertain": list(cas.uncertain),
        },
        "location": _location(loc),
        "grade": c.grade.value if c.grade else None,
        "grade_basis": c.grade_basis,
        "responsible": {
            "level": duty.level,
            "lead": duty.lead,
            "co": list(duty.co),
            "bodies": list(duty.bodies),
        },
    }


def _location(loc: Location) -> dict[str, Any]:
    return {
        "in_jurisdiction": loc.in_jurisdiction,
        "province": loc.province,
        "city": loc.city,
        "county": loc.county,
        "county_code": loc.county_code,
        "town": loc.town,
        "town_code": loc.town_code,
        "places": list(loc.places),
        "province_code": loc.province_code,
        "city_code": loc.city_code,
    }
