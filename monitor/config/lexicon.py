"""The event lexicon file (default monitor/config/triggers.yaml): triggers per category,
not-incident context, casualty weight, precedence and not_terms. Validated like the city
file: every problem is reported with its line."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, format_path, read_yaml
from monitor.config.schema import CATEGORY_KEYS, NONE_KEY, CityConfig, Name, Strict
from monitor.domain.detect import EventLexicon

DEFAULT_TRIGGERS = Path(__file__).with_name("triggers.yaml")


class ContextKind(Strict):
    weight: float = Field(gt=0)
    words: tuple[Name, ...] = Field(min_length=1)


class Combo(Strict):
    all: tuple[Name, ...] = Field(min_length=2)
    weight: float = Field(gt=0)


class TriggersFile(Strict):
    casualty_weight: float = Field(ge=0)
    casualty_default: str | None = None
    precedence: tuple[Name, ...] = ()
    triggers: dict[str, dict[Name, float]]
    not_incident: dict[str, ContextKind] = Field(default_factory=dict)
    not_terms: tuple[Name, ...] = ()
    combos: dict[str, tuple[Combo, ...]] = Field(default_factory=dict)


def triggers_path(cfg: CityConfig) -> Path:
    return Path(cfg.classifier.triggers) if cfg.classifier.triggers else DEFAULT_TRIGGERS


@cache
def read_lexicon(path: Path) -> EventLexicon:
    """Read and validate a triggers file; ConfigError lists every problem with its line."""
    data, lines = read_yaml(path)
    try:
        spec = TriggersFile.model_validate(data)
    except ValidationError as exc:
        issues = [
            ConfigIssue(str(path), lines.line_of(e["loc"]), format_path(e["loc"]), e["msg"])
            for e in exc.errors()
        ]
        raise ConfigError(issues) from exc
    problems = []
    named: list[tuple[tuple[str | int, ...], str]] = [
        *((("triggers", k), k) for k in spec.triggers),
        *((("combos", k), k) for k in spec.combos),
        *((("precedence", i), k) for i, k in enumerate(spec.precedence)),
        *([(("casualty_default",), spec.casualty_default)] if spec.casualty_default else []),
    ]
    for at, key in named:
        if key not in CATEGORY_KEYS or key == NONE_KEY:
            reason = f"unknown category {key!r}; known: {', '.join(CATEGORY_KEYS[:-1])}"
            problems.append(ConfigIssue(str(path), lines.line_of(at), format_path(at), reason))
    if problems:
        raise ConfigError(problems)
    context = {kind: (k.weight, k.words) for kind, k in spec.not_incident.items()}
    combos = {key: [(c.all, c.weight) for c in rules] for key, rules in spec.combos.items()}
    return EventLexicon.build(
        spec.triggers, context, spec.casualty_weight, spec.precedence, spec.not_terms, combos,
        spec.casualty_default,
    )  # fmt: skip


def event_lexicon(cfg: CityConfig) -> EventLexicon:
    """The lexicon for this city: triggers of categories the city does not model are left out
    (a city with fewer categories shares the packaged file)."""
    return read_lexicon(triggers_path(cfg)).only(frozenset(cfg.categories))


def lexicon_issues(cfg: CityConfig) -> list[ConfigIssue]:
    try:
        event_lexicon(cfg)
    except ConfigError as exc:
        return exc.issues
    return []
