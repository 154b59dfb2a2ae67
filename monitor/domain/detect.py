"""Is a text an incident, and of what kind: topic words, event triggers and stated casualties.

    detection = detect(model, lexicon, terms, casualties)

Topic words (`KeywordModel`: 旅游, 学校, 卫生 …) say what a text is about; event triggers
(`EventLexicon`: 爆炸, 坍塌, 被拐 …) say that something happened, and weigh more. When a
trigger fired, the category is one whose trigger fired, so the category follows the event and
not its setting: 游客 + 旅游 + 车祸 is a traffic accident (unless the topic words speak for
another category `TOPIC_OVER_TRIGGER` times as much: a weak trigger in a long report on
something else). Stated deaths, injuries, people trapped or missing, or a loss add
`casualty_weight` to the leading event category, unless the text carries `not_incident`
context (history, fiction, a death from illness, a drill, advice); with no category at all,
stated deaths go to `casualty_default`. Pure: the scanner's terms and the extractor's facts
in, a decision with its reasons out (`monitor route` prints them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

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
    # terms that together name an event (老师 + 猥亵 → education, 直升机 + 失踪 → aviation)
    combos: tuple[tuple[str, frozenset[str], float], ...] = ()
    casualty_default: str | None = None  # stated deaths with no category: this one

    @classmethod
    def build(
        cls,
        triggers: Mapping[str, Mapping[str, float]],
        context: Mapping[str, tuple[float, Sequence[str]]],
        casualty_weight: float,
        precedence: Sequence[str],
        not_terms: Iterable[str] = (),
        combos: Mapping[str, Sequence[tuple[Sequence[str], float]]] | None = None,
        casualty_default: str | None = None,
    ) -> EventLexicon:
        """`triggers`: category -> {term: weight}; `context`: kind -> (weight, words);
        `combos`: category -> [(terms, weight)]."""
        by_term: dict[str, dict[str, float]] = {}
        for category, table in triggers.items():
            for term, weight in table.items():
                by_term.setdefault(term, {})[category] = weight
        words = {w: kind for kind, (_, ws) in context.items() for w in ws}
        weights = {kind: weight for kind, (weight, _) in context.items()}
        blocked = frozenset(not_terms)
        together = tuple(
            (category, frozenset(terms), weight)
            for category, rules in (combos or {}).items()
            for terms, weight in rules
        )
        return cls(
            by_term, words, weights, casualty_weight, tuple(precedence), blocked, together,
            casualty_default,
        )  # fmt: skip

    @property
    def vocabulary(self) -> frozenset[str]:
        combined = frozenset(t for _, terms, _ in self.combos for t in terms)
        return frozenset(self.triggers) | frozenset(self.context) | combined

    def only(self, categories: frozenset[str]) -> EventLexicon:
        """This lexicon with the triggers of other categories left out."""
        triggers = {}
        for term, weights in self.triggers.items():
            kept = {c: w for c, w in weights.items() if c in categories}
            if kept:
                triggers[term] = kept
        precedence = tuple(c for c in self.precedence if c in categories)
        combos = tuple(x for x in self.combos if x[0] in categories)
        default = self.casualty_default if self.casualty_default in categories else None
        return replace(
            self, triggers=triggers, precedence=precedence, combos=combos, casualty_default=default
        )


EMPTY_LEXICON = EventLexicon({}, {}, {}, 0.0, ())


@dataclass(frozen=True, slots=True)
class Detection:
    result: CategoryResult
    scores: tuple[tuple[str, float], ...]  # category -> total
    topic: tuple[tuple[str, str, float], ...]  # (term, category, weight) that fired
    triggers: tuple[tuple[str, str, float], ...]
    context: tuple[tuple[str, str], ...]  # (term, kind)
    casualty_evidence: bool  # stated casualties counted for the category


def has_casualty_facts(c: Casualties) -> bool:
    """Deaths, injuries, trapped, missing or a loss stated with a figure above zero, or
    mentioned with no usable figure (数十人受伤)."""
    return bool(
        c.deaths or c.missing or c.injured or c.serious_injured or c.trapped or c.loss_yuan
        or c.uncertain
    )  # fmt: skip


def has_deaths(c: Casualties) -> bool:
    """Someone dead or missing (with or without a figure), or a figure of people trapped:
    enough on its own. A lone injury word is not (伤兵 in sports news reads as one), nor a bare
    受困 (受困基金)."""
    return bool(
        c.deaths or c.missing or c.trapped
        or any(f in ("deaths", "missing") for f in c.uncertain)
    )  # fmt: skip


TOPIC, TRIGGER, CONTEXT = 0, 1, 2
TOPIC_OVER_TRIGGER = 2.0  # how far a topic-only category must outscore the event's to win


class Detector:
    """`KeywordModel` and `EventLexicon` compiled into one table: term → what it adds where.

        detector = Detector(model, lexicon)
        detection = detector.detect(terms, casualties)
    """

    def __init__(self, model: KeywordModel, lexicon: EventLexicon) -> None:
        self.model, self.lexicon = model, lexicon
        words = lexicon.vocabulary | model.vocabulary  # phrase-only terms too
        table: dict[str, list[tuple[str, float, int]]] = {t: [] for t in words}
        for term, weights in model.weights.items():
            table.setdefault(term, []).extend((c, w, TOPIC) for c, w in weights.items())
        for term, weights in lexicon.triggers.items():
            table.setdefault(term, []).extend((c, w, TRIGGER) for c, w in weights.items())
        for term, kind in lexicon.context.items():
            table.setdefault(term, []).append((kind, lexicon.context_weight[kind], CONTEXT))
        self._table = {t: tuple(entries) for t, entries in table.items()}
        self._words = frozenset(self._table)
        # Phrase rules and trigger combos, filed under one of their terms so that a post only
        # tests the rules one of its own terms could complete.
        self._rules: dict[str, list[tuple[int, str, frozenset[str], float]]] = {}
        rules = [(TOPIC, c, r.terms, r.weight) for c, rs in model.phrases.items() for r in rs]
        rules += [(TRIGGER, c, terms, w) for c, terms, w in lexicon.combos]
        for rule in rules:
            self._rules.setdefault(min(rule[2]), []).append(rule)
        self._rank = {key: i for i, key in enumerate(lexicon.precedence)}
        self._nothing = _result(model, lexicon, {}, set(), None, 0.0, 0.0)

    def detect(self, terms: Iterable[str], casualties: Casualties) -> Detection:
        table = self._table
        seen = self._words.intersection(terms)
        stated = has_casualty_facts(casualties)
        fallback = self.lexicon.casualty_default is not None and stated and has_deaths(casualties)
        if not seen and not fallback:
            return Detection(self._nothing, (), (), (), (), False)
        scores: dict[str, float] = {}
        events: dict[str, float] = {}
        topic, fired, context = [], [], []
        for term in seen:
            for category, weight, kind in table[term]:
                if kind == TOPIC:
                    scores[category] = scores.get(category, 0.0) + weight
                    topic.append((term, category, weight))
                elif kind == TRIGGER:
                    events[category] = events.get(category, 0.0) + weight
                    fired.append((term, category, weight))
                else:
                    context.append((term, category))
        for anchor in seen & self._rules.keys():
            for kind, category, together, weight in self._rules[anchor]:
                if together <= seen:
                    name = "+".join(sorted(together))
                    if kind == TOPIC:
                        scores[category] = scores.get(category, 0.0) + weight
                        topic.append((name, category, weight))
                    else:
                        events[category] = events.get(category, 0.0) + weight
                        fired.append((name, category, weight))
        for category, weight in events.items():
            scores[category] = scores.get(category, 0.0) + weight
        for setting in {k for _, k in context}:
            scores[NONE] = scores.get(NONE, 0.0) + self.lexicon.context_weight[setting]

        rank, last = self._rank, len(self._rank)
        # The event decides the category: with a trigger, only categories it names compete.
        pool = [c for c in events if c != NONE] or [c for c in scores if c != NONE]
        if len(pool) == 1:
            leader: str | None = pool[0]
        else:
            leader = min(pool, key=lambda c: (-scores[c], rank.get(c, last), c), default=None)
        if events and leader is not None:
            # ... unless the topic words speak for another category far more (a weak trigger,
            # 抢险, in a long report on an outbreak)
            topic_best = max((c for c in scores if c != NONE), key=scores.__getitem__)
            if scores[topic_best] >= TOPIC_OVER_TRIGGER * scores[leader]:
                leader = topic_best
        evidence = stated and not context
        if evidence and leader is None and fallback:
            leader = self.lexicon.casualty_default
        evidence = evidence and leader is not None
        if evidence and leader is not None:
            scores[leader] = scores.get(leader, 0.0) + self.lexicon.casualty_weight
        best = scores[leader] if leader is not None else 0.0
        against = scores.get(NONE, 0.0)
        is_incident = leader is not None and best >= self.model.min_score and best > against
        decided = leader if is_incident else None
        result = _result(self.model, self.lexicon, scores, seen, decided, best, against)
        # Reasons in the order found (sorting every post's would cost; `monitor route` sorts).
        return Detection(
            result, tuple(scores.items()), tuple(topic), tuple(fired), tuple(context), evidence
        )


def detect(
    model: KeywordModel, lexicon: EventLexicon, terms: Iterable[str], casualties: Casualties
) -> Detection:
    """One-off detection (tests, tools); a service keeps a `Detector`."""
    return Detector(model, lexicon).detect(terms, casualties)


def _result(
    model: KeywordModel,
    lexicon: EventLexicon,
    scores: Mapping[str, float],
    seen: AbstractSet[str],
    category: str | None,
    best: float,
    against: float,
) -> CategoryResult:
    if category is not None:
        total = sum(scores.values())
        confidence = best / (total + 1.0)
        keywords = _keywords(model, lexicon, seen, category)
        return CategoryResult(category, True, round(confidence, 3), keywords, best)
    # Confidence that it is *not* an incident: how far the best incident score is from the bar.
    top = max((s for c, s in scores.items() if c != NONE), default=0.0)
    confidence = 1.0 - min(top / (model.min_score * 2), 0.5)
    return CategoryResult(NONE, False, round(confidence, 3), (), against)


def _keywords(
    model: KeywordModel, lexicon: EventLexicon, seen: AbstractSet[str], category: str
) -> tuple[str, ...]:
    """The category's triggers, then its topic words, heaviest first."""
    weighed = []
    for t in seen:
        trigger = lexicon.triggers.get(t, {}).get(category, 0.0)
        topic = model.weights.get(t, {}).get(category, 0.0)
        if trigger or topic:
            weighed.append((-trigger, -topic, t))
    weighed.sort()
    return tuple(t for _, _, t in weighed[: model.top_keywords])
