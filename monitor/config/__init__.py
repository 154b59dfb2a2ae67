"""City configuration: load, validate and report every problem with its line."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, LineMap, format_path, read_yaml
from monitor.config.schema import CityConfig, semantic_issues

DEFAULT_CONFIG = Path(__file__).with_name("ziyang.yaml")

__all__ = ["DEFAULT_CONFIG", "CityConfig", "ConfigError", "ConfigIssue", "load_config"]


def _pydantic_issues(exc: ValidationError, file: str, lines: LineMap) -> list[ConfigIssue]:
    errors = exc.errors()
    locs = [tuple("with" if part == "with_" else part for part in e["loc"]) for e in errors]
    issues = []
    for err, loc in zip(errors, locs, strict=True):
        # A list whose bad item was dropped also reports "too short": noise beside the cause.
        if err["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
            continue
        issues.append(ConfigIssue(file, lines.line_of(loc), format_path(loc), err["msg"]))
    return issues


def load_config(path: str | Path | None = None) -> CityConfig:
    """Read and validate a city config; raise ConfigError listing every problem."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    data, lines = read_yaml(file)
    try:
        cfg = CityConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc, str(file), lines)) from exc
    problems = [
        ConfigIssue(str(file), lines.line_of(p), format_path(p), reason)
        for p, reason in semantic_issues(cfg)
    ]
    if problems:
        raise ConfigError(problems)
    return cfg


@cache
def default_config() -> CityConfig:
    return load_config(DEFAULT_CONFIG)
