"""A learned keyword model file (`classifier: {model: ziyang_model.yaml}` in a city config).

`monitor learn` writes it; an analyst may edit it. It holds the terms and phrases; the city file
keeps each category's label and departments. Two decisions, both sums of term weights:

    incident:            # an incident when Σ incident terms − Σ none terms ≥ threshold
      threshold: 6.5
      scale: 2.0         # weight points per logit: confidence = logistic(margin / scale)
      terms: {爆炸: 9.1, 坍塌: 8.0}
    none:
      terms: {股市: 7.2, 票房: 5.0}   # evidence that a text is not an incident
    categories:                      # which kind? the highest bias + Σ terms (+ phrases)
      work_safety:
        bias: -1.2
        terms: {爆炸: 6.3, 坍塌: 7.9}
        phrases: [{all: [工地, 坍塌], weight: 2}]

`learned:` records how the file was made (command, inputs with SHA-256, date, parameters); it
is read by nothing at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, format_path, read_yaml
from monitor.config.schema import NONE_KEY, Name, Phrase, Strict

Weight = float


class GateSpec(Strict):
    threshold: float
    scale: float = Field(default=1.0, gt=0)
    terms: dict[Name, Weight] = Field(default_factory=dict)


class NoneSpec(Strict):
    terms: dict[Name, Weight] = Field(default_factory=dict)


class CategorySpec(Strict):
    bias: float = 0.0
    terms: dict[Name, Weight] = Field(default_factory=dict)
    phrases: tuple[Phrase, ...] = ()


class LearnedModel(Strict):
    learned: dict[str, Any] | None = None
    incident: GateSpec
    none: NoneSpec = NoneSpec()
    categories: dict[Name, CategorySpec] = Field(min_length=1)


def load_model(path: str | Path, categories: set[str]) -> LearnedModel:
    """Read and validate a model file against the city's category keys; ConfigError lists every
    problem with the model file's own line numbers."""
    file = str(path)
    data, lines = read_yaml(path)
    try:
        model = LearnedModel.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([
            ConfigIssue(file, lines.line_of(tuple(e["loc"])), format_path(tuple(e["loc"])),
                        str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]) from exc  # fmt: skip
    issues = [
        ConfigIssue(file, lines.line_of(p), format_path(p), reason)
        for p, reason in model_issues(model, categories)
    ]
    if issues:
        raise ConfigError(issues)
    return model


def model_issues(model: LearnedModel, categories: set[str]) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for key, spec in model.categories.items():
        if key == NONE_KEY:
            out.append((("categories", key), "`none` is not a category here: its terms go under "
                        "the top-level `none:` (evidence against an incident)"))  # fmt: skip
        elif key not in categories:
            out.append((("categories", key), f"category {key!r} is not in the city config "
                        f"(known: {', '.join(sorted(categories - {NONE_KEY}))})"))  # fmt: skip
        elif not spec.terms and not spec.phrases:
            out.append((("categories", key, "terms"), "a category needs at least one term"))
    if not model.incident.terms:
        out.append((("incident", "terms"), "the incident decision needs at least one term"))
    return out
