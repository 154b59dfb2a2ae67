"""Keyword models: which category a text is about, and whether it reports an incident.

The models are weighted terms and phrases per category key (from the city config). A scanner at
the edge (jieba, or the Aho-Corasick fast path) turns text into term hits; this module only
scores hits, so both scanners share one decision rule and can be compared on accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NONE = "none"


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

    @classmethod
    def build(
        cls,
        terms: Mapping[str, Mapping[str, float]],
        phrases: Mapping[str, Sequence[tuple[Sequence[str], float]]],
        min_score: float,
        top_keywords: int = 5,
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
        return cls(by_term, rules, min_score, top_keywords)

    @property
    def vocabulary(self) -> frozenset[str]:
        words = set(self.weights)
        for rules in self.phrases.values():
            for rule in rules:
                words |= rule.terms
        return frozenset(words)

    def categorise(self, terms: Iterable[str]) -> CategoryResult:
        """Score the distinct terms seen in a text and pick the category."""
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
