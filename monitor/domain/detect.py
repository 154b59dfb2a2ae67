"""Is a text an incident, and of what kind: topic words, event triggers and stated casualties.

    detection = detect(model, lexicon, terms, casualties)

Topic words (`KeywordModel`: 旅游, 学校, 卫生 …) say what a text is about; event triggers
(`EventLexicon`: 爆炸, 坍塌, 被拐 …) say that something happened, and weigh more. When a
trigger fired, the category is one whose trigger fired, so the category follows the event and
not its setting: 游客 + 旅游 + 车祸 is a traffic accident. Stated deaths, injuries, people
trapped or missing, or a loss add `casualty_weight` to the leading event category, unless the
text carries `not_incident` context (history, fiction, a death from illness, a drill, advice),
which instead weighs for `none`. Pure: the scanner's terms and the extractor's facts in, a
decision with its reasons out (`monitor route` prints them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.domain.classify import NONE, CategoryResult, KeywordModel
from monitor.domain.model import Casualties


@dataclass(frozen=True)
class EventLexicon:
    triggers: Mapping[str, Mapping[str, float]]  # term -> {category: weight}
    context: Mapping[str, str]  # term -> not-incident kind (historical, fiction, …)
    context_weight: Mapping[str, float]  # kind -> weight for `none`
    casualty_weight: float
    precedence: Sequence[str]  # category keys, first wins a tie
    not_terms: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        triggers: Mapping[str, Mapping[str, float]],
        context: Mapping[str, tuple[float, Sequence[str]]],
        casualty_weight: float,
        precedence: Sequence[str],
        not_terms: Iterable[str] = (),
    ) -> EventLexicon:
        """`triggers`: category -> {term: weight}; `context`: kind -> (weight, words)."""
        by_term: dict[str, dict[str, float]] = {}
        for category, table in triggers.items():
            for term, weight in table.items():
                by_term.setdefault(term, {})[category] = weight
        words = {w: kind for kind, (_, ws) in context.items() for w in ws}
        weights = {kind: weight for kind, (weight, _) in context.items()}
        return cls(by_term, words, weights, casualty_weight, tuple(precedence), frozenset(not_terms))

    @property
    def vocabulary(self) -> frozenset[str]:
        return frozenset(self.triggers) | frozenset(self.context)


EMPTY_LEXICON = EventLexicon({}, {}, {}, 0.0, ())


@dataclass(frozen=True, slots=True)
class Detection:
    result: CategoryResult
    scores: tuple[tuple[str, float], ...]  # category -> total, highest first
    topic: tuple[tuple[str, str, float], ...]  # (term, category, weight) that fired
    triggers: tuple[tuple[str, str, float], ...]
    context: tuple[tuple[str, str], ...]  # (term, kind)
    casualty_evidence: bool  # stated casualties counted for the category


def has_casualty_facts(c: Casualties) -> bool:
    """Deaths, injuries, trapped, missing or a loss stated with a figure above zero, or
    mentioned with no usable figure (数十人受伤)."""
    counted = (c.deaths, c.missing, c.injured, c.serious_injured, c.trapped, c.loss_yuan)
    return any(n for n in counted) or bool(c.uncertain)


def detect(
    model: KeywordModel, lexicon: EventLexicon, terms: Iterable[str], casualties: Casualties
) -> Detection:
    seen = set(terms)
    scores: dict[str, float] = {}
    topic = []
    for term in seen & model.weights.keys():
        for category, weight in model.weights[term].items():
            scores[category] = scores.get(category, 0.0) + weight
            topic.append((term, category, weight))
    for category, rules in model.phrases.items():
        for rule in rules:
            if rule.terms <= seen:
                scores[category] = scores.get(category, 0.0) + rule.weight
                topic.append(("+".join(sorted(rule.terms)), category, rule.weight))
    fired = []
    events: dict[str, float] = {}
    for term in seen & lexicon.triggers.keys():
        for category, weight in lexicon.triggers[term].items():
            events[category] = events.get(category, 0.0) + weight
            fired.append((term, category, weight))
    for category, weight in events.items():
        scores[category] = scores.get(category, 0.0) + weight
    context = sorted((t, lexicon.context[t]) for t in seen & lexicon.context.keys())
    for kind in {k for _, k in context}:
        scores[NONE] = scores.get(NONE, 0.0) + lexicon.context_weight[kind]

    rank = {key: i for i, key in enumerate(lexicon.precedence)}
    order = {c: (-s, rank.get(c, len(rank)), c) for c, s in scores.items()}
    # The event decides the category: with a trigger, only categories it names compete.
    pool = [c for c in events if c != NONE] or [c for c in scores if c != NONE]
    leader = min(pool, key=order.__getitem__, default=None)
    casualty_evidence = leader is not None and not context and has_casualty_facts(casualties)
    if casualty_evidence and leader is not None:
        scores[leader] += lexicon.casualty_weight
    best = scores.get(leader, 0.0) if leader else 0.0
    against = scores.get(NONE, 0.0)
    is_incident = leader is not None and best >= model.min_score and best > against
    result = _result(model, lexicon, scores, seen, leader if is_incident else None, best, against)
    ranked = tuple(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))
    return Detection(
        result, ranked, tuple(sorted(topic)), tuple(sorted(fired)), tuple(context),
        casualty_evidence,
    )  # fmt: skip


def _result(
    model: KeywordModel,
    lexicon: EventLexicon,
    scores: Mapping[str, float],
    seen: set[str],
    category: str | None,
    best: float,
    against: float,
) -> CategoryResult:
    if category is not None:
        total = sum(scores.values())
        confidence = best / (total + 1.0)
        return CategoryResult(category, True, round(confidence, 3), _keywords(model, lexicon, seen, category), best)
    # Confidence that it is *not* an incident: how far the best incident score is from the bar.
    top = max((s for c, s in scores.items() if c != NONE), default=0.0)
    confidence = 1.0 - min(top / (model.min_score * 2), 0.5)
    return CategoryResult(NONE, False, round(confidence, 3), _keywords(model, lexicon, seen, NONE), against)


def _keywords(
    model: KeywordModel, lexicon: EventLexicon, seen: set[str], category: str
) -> tuple[str, ...]:
    """The category's triggers, then its topic words, heaviest first."""

    def weight(t: str) -> float:
        return lexicon.triggers.get(t, {}).get(category, 0.0) * 100 + model.weights.get(
            t, {}
        ).get(category, 0.0)

    ranked = sorted((t for t in seen if weight(t) > 0), key=lambda t: (-weight(t), t))
    return tuple(ranked[: model.top_keywords])
