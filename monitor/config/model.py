"""A learned keyword model file (`classifier: {model: ziyang_model.yaml}` in a city config).

`monitor learn` writes it and an analyst may edit it. It holds what the city file's categories
would otherwise hold: each category's terms and phrases, `none`'s terms (evidence that a text is
not an incident) and `min_score`. The city file keeps each category's label and departments;
the event lexicon (triggers.yaml) and the casualty rule apply on top, as for hand-set terms.

    min_score: 6.0
    categories:
      work_safety:
        terms: {工地: 3.2, 矿井: 4.1}
        phrases: [{all: [工地, 坍塌], weight: 2}]
      none:
        terms: {股市: 7.2, 票房: 5.0}

`learned:` records how the file was made (command, inputs with SHA-256, date, parameters); it is
read by nothing at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, format_path, read_yaml
from monitor.config.schema import NONE_KEY, Name, Phrase, Strict


class CategorySpec(Strict):
    terms: dict[Name, float] = Field(default_factory=dict)
    phrases: tuple[Phrase, ...] = ()


class LearnedModel(Strict):
    learned: dict[str, Any] | None = None
    min_score: float = Field(gt=0)
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
        if key not in categories:
            known = ", ".join(sorted(categories))
            out.append((("categories", key), f"category {key!r} is not in the city config "
                        f"(known: {known})"))  # fmt: skip
        elif not spec.terms and not spec.phrases:
            out.append((("categories", key, "terms"), "a category needs at least one term"))
        for i, phrase in enumerate(spec.phrases):
            if not set(phrase.all) <= spec.terms.keys():
                path = ("categories", key, "phrases", str(i))
                out.append((path, "a phrase's words must be terms of its category"))
    if NONE_KEY not in model.categories:
        out.append((("categories",), "the `none` category (what is not an incident) is required"))
    return out
