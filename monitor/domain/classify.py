"""Keyword models: which category a text is about, and whether it reports an incident.

The models are weighted terms and phrases per category key (the learned model file the city
config names). A scanner at the edge (jieba, or the Aho-Corasick fast path) turns text into
term hits; `monitor/domain/detect.py` scores them with the event lexicon, so both scanners share
one decision rule and can be compared on accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
