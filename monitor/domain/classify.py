"""Keyword models: which category a text is about, and whether it reports an incident.

The models are weighted terms and phrases per category key (from the city config). A scanner at
the edge (jieba, or the Aho-Corasick fast path) turns text into term hits; this module only
scores hits, so both scanners share one decision rule and can be compared on accuracy.

A learned model (`monitor learn`, monitor/config/model.py) adds an `IncidentGate`: whether a
text is an incident is its own weighted sum against a threshold, and the category is the best
of bias + terms among the incident categories. Without a gate, the hand-set rule holds: the best
category, `none` included, must reach `min_score`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

NONE = "none"


@dataclass(frozen=True, slots=True)
class IncidentGate:
    """Σ weights of the distinct terms seen ≥ threshold → an incident. A negative weight is
    evidence against (a `none` term). `scale`: weight points per logit, for the confidence."""

    weights: Mapping[str, float]
    threshold: float
    scale: float = 1.0

    def margin(self, seen: Iterable[str]) -> float:
        return sum(self.weights.get(t, 0.0) for t in seen) - self.threshold


@dataclass(frozen=True, slots=True)
class PhraseRule:
    terms: frozenset[str]
    weight: float


@dataclass(frozen=True, slots=True)
class CategoryResult:
    category: str
    is_incident: bool
    confidence: float
    keywords: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class KeywordModel:
    """Per-category term weights. Each distinct term counts once per text."""

    weights: Mapping[str, Mapping[str, float]]  # term -> {category: weight}
    phrases: Mapping[str, Sequence[PhraseRule]]  # category -> rules
    min_score: float
    top_keywords: int
    gate: IncidentGate | None = None
    bias: Mapping[str, float] = field(default_factory=dict)  # category -> prior (gate models)

    @classmethod
    def build(
        cls,
        terms: Mapping[str, Mapping[str, float]],
        phrases: Mapping[str, Sequence[tuple[Sequence[str], float]]],
        min_score: float,
        top_keywords: int = 5,
        gate: IncidentGate | None = None,
        bias: Mapping[str, float] | None = None,
    ) -> KeywordModel:
        """`terms`: category -> {term: weight}; `phrases`: category -> [(terms, weight)]."""
        by_term: dict[str, dict[str, float]] = {}
        for category, table in terms.items():
            for term, weight in table.items():
                by_term.setdefault(term, {})[category] = weight
        rules = {
            category: tuple(PhraseRule(frozenset(ts), w) for ts, w in items)
            for category, items in phrases.items()
        }
        return cls(by_term, rules, min_score, top_keywords, gate, dict(bias or {}))

    @property
    def vocabulary(self) -> frozenset[str]:
        words = set(self.weights) | set(self.gate.weights if self.gate else ())
        for rules in self.phrases.values():
            for rule in rules:
                words |= rule.terms
        return frozenset(words)

    def categorise(self, terms: Iterable[str]) -> CategoryResult:
        """Score the distinct terms seen in a text and pick the category."""
        if self.gate is not None:
            return self._gated(set(terms), self.gate)
        seen = {t for t in terms if t in self.weights}
        scores: dict[str, float] = {}
        for term in seen:
            for category, weight in self.weights[term].items():
                scores[category] = scores.get(category, 0.0) + weight
        for category, rules in self.phrases.items():
            for rule in rules:
                if rule.terms <= seen:
                    scores[category] = scores.get(category, 0.0) + rule.weight
        return self._decide(scores, seen)

    def _gated(self, found: set[str], gate: IncidentGate) -> CategoryResult:
        margin = gate.margin(found)
        seen = {t for t in found if t in self.weights}
        scores = dict(self.bias)
        for term in seen:
            for category, weight in self.weights[term].items():
                scores[category] = scores.get(category, 0.0) + weight
        for category, rules in self.phrases.items():
            for rule in rules:
                if rule.terms <= seen:
                    scores[category] = scores.get(category, 0.0) + rule.weight
        scores.pop(NONE, None)
        if margin < 0 or not scores:
            against = sorted((t for t in found if gate.weights.get(t, 0.0) < 0),
                             key=lambda t: (gate.weights[t], t))  # fmt: skip
            confidence = _logistic(-margin / gate.scale)
            return CategoryResult(NONE, False, round(confidence, 3),
                                  tuple(against[: self.top_keywords]), margin)  # fmt: skip
        best, best_score = min(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        confidence = _logistic(margin / gate.scale)
        return CategoryResult(best, True, round(confidence, 3), self._keywords(seen, best),
                              best_score)  # fmt: skip

    def _decide(self, scores: dict[str, float], seen: set[str]) -> CategoryResult:
        # Ties break on the category key so the result never depends on set order.
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            return CategoryResult(NONE, False, 1.0, (), 0.0)
        best, best_score = ranked[0]
        total = sum(scores.values())
        is_incident = best != NONE and best_score >= self.min_score
        category = best if is_incident else NONE
        if is_incident:
            confidence = best_score / (total + 1.0)
        else:
            # Confidence that it is *not* an incident: how far the best incident score is
            # from the bar.
            top_incident = max((s for c, s in scores.items() if c != NONE), default=0.0)
            confidence = 1.0 - min(top_incident / (self.min_score * 2), 0.5)
        keywords = self._keywords(seen, best)
        return CategoryResult(category, is_incident, round(confidence, 3), keywords, best_score)

    def _keywords(self, seen: set[str], category: str) -> tuple[str, ...]:
        ranked = sorted(
            (t for t in seen if category in self.weights[t]),
            key=lambda t: (-self.weights[t][category], t),
        )
        return tuple(ranked[: self.top_keywords])


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))
