"""City configuration: load, validate and report every problem with its line.

One path: `load_config` validates every section (the city's own, and the escalation file it
names) and the builders here turn sections into the domain's frozen policies:

    cfg = load_config(path)
    params = incident_params(cfg)        # IncidentParams: clocks, heat, assignment, skew
    evidence = evidence_policy(cfg)      # EvidencePolicy with the official accounts table
    ladder = ladder_path(cfg)            # the escalation file (who is told what)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.config import sections
from monitor.config.lexicon import lexicon_issues
from monitor.config.loader import ConfigError, ConfigIssue, LineMap, format_path, read_yaml
from monitor.config.schema import CityConfig, semantic_issues
from monitor.domain.evidence import EvidencePolicy
from monitor.domain.policy import IncidentParams

DEFAULT_CONFIG = Path(__file__).with_name("ziyang.yaml")

__all__ = [
    "DEFAULT_CONFIG",
    "CityConfig",
    "ConfigError",
    "ConfigIssue",
    "clocks_params",
    "config_from",
    "evidence_policy",
    "incident_params",
    "ladder_path",
    "load_config",
]


def _pydantic_issues(exc: ValidationError, file: str, lines: LineMap) -> list[ConfigIssue]:
    errors = exc.errors()
    locs = [tuple("with" if part == "with_" else part for part in e["loc"]) for e in errors]
    issues = []
    for err, loc in zip(errors, locs, strict=True):
        # A list whose bad item was dropped also reports "too short": noise beside the cause.
        if err["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
            continue
        issues.append(ConfigIssue(file, lines.line_of(loc), format_path(loc), _reason(err)))
    return issues


def _reason(err: object) -> str:
    msg = str(err["msg"])  # type: ignore[index]
    # "Value error, bad duration '5 hours'; …" → the validator's own words
    return msg.removeprefix("Value error, ")


def load_config(path: str | Path | None = None) -> CityConfig:
    """Read and validate a city config and the escalation file it names; raise ConfigError
    listing every problem (each with its own file and line)."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    data, lines = read_yaml(file)
    return config_from(data, lines, file)


def config_from(data: Any, lines: LineMap, file: Path) -> CityConfig:
    """`load_config` of data already read (a what-if overlay merged onto a base config): each
    problem is reported against `file` at the line `lines` gives its path."""
    try:
        cfg = CityConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc, str(file), lines)) from exc
    problems = [
        ConfigIssue(str(file), lines.line_of(p), format_path(p), reason)
        for p, reason in semantic_issues(cfg)
    ]
    cfg = _resolved_triggers(_resolved(cfg, file), file)
    problems.extend(_ladder_issues(cfg, file, lines))
    problems.extend(lexicon_issues(cfg))
    problems.extend(_model_issues(cfg, file, lines))
    if problems:
        raise ConfigError(problems)
    return cfg


def _resolved(cfg: CityConfig, file: Path) -> CityConfig:
    """The escalation and model files named relative to the city file live beside it."""
    here = file.resolve().parent
    ladder, model = cfg.escalation.ladder, cfg.classifier.model
    if ladder is not None and not Path(ladder).is_absolute():
        escalation = cfg.escalation.model_copy(update={"ladder": str(here / ladder)})
        cfg = cfg.model_copy(update={"escalation": escalation})
    if model is not None and not Path(model).is_absolute():
        classifier = cfg.classifier.model_copy(update={"model": str(here / model)})
        cfg = cfg.model_copy(update={"classifier": classifier})
    return cfg


def _model_issues(cfg: CityConfig, file: Path, lines: LineMap) -> list[ConfigIssue]:
    from monitor.config.model import load_model

    if cfg.classifier.model is None:
        return []
    path = Path(cfg.classifier.model)
    if not path.exists():
        where = ("classifier", "model")
        return [ConfigIssue(str(file), lines.line_of(where), format_path(where),
                            f"no model file at {path}")]  # fmt: skip
    try:
        load_model(path, set(cfg.categories))
    except ConfigError as exc:
        return exc.issues
    return []


def _resolved_triggers(cfg: CityConfig, file: Path) -> CityConfig:
    path = cfg.classifier.triggers
    if path is None or Path(path).is_absolute():
        return cfg
    settings = cfg.classifier.model_copy(update={"triggers": str(file.resolve().parent / path)})
    return cfg.model_copy(update={"classifier": settings})


def _ladder_issues(cfg: CityConfig, file: Path, lines: LineMap) -> list[ConfigIssue]:
    from monitor.notify.config import load_ladder  # the notifier's reader, one validation

    path = ladder_path(cfg)
    if not path.exists():
        where = ("escalation", "ladder")
        return [ConfigIssue(str(file), lines.line_of(where), format_path(where),
                            f"no escalation file at {path}")]  # fmt: skip
    # a city's own ladder must name its bodies; the packaged Ziyang one is checked as a file only
    bodies = cfg.bodies() if cfg.escalation.ladder else None
    try:
        load_ladder(path, bodies)
    except ConfigError as exc:
        return exc.issues
    return []


@cache
def default_config() -> CityConfig:
    return load_config(DEFAULT_CONFIG)


def incident_params(cfg: CityConfig) -> IncidentParams:
    return sections.incident_params(cfg.clocks)


def clocks_params(section: Mapping[str, Any], where: str = "<clocks>") -> IncidentParams:
    """IncidentParams from a bare `clocks:` mapping (tests, tools), validated exactly as a city
    file's section is; ConfigError names each bad path (`clocks.release.after`)."""
    try:
        clocks = sections.ClocksSection.model_validate(dict(section))
    except ValidationError as exc:
        issues = [
            ConfigIssue(where, None, format_path(("clocks", *e["loc"])), _reason(e))
            for e in exc.errors()
        ]
        raise ConfigError(issues) from exc
    problems = [
        ConfigIssue(where, None, format_path(p), reason)
        for p, reason in sections.section_issues(clocks, sections.EvidenceSection(), (), set())
    ]
    if problems:
        raise ConfigError(problems)
    return sections.incident_params(clocks)


def evidence_policy(cfg: CityConfig) -> EvidencePolicy:
    return sections.evidence_policy(cfg.evidence, cfg.official_accounts)


def ladder_path(cfg: CityConfig) -> Path:
    from monitor.notify.config import DEFAULT_LADDER

    return Path(cfg.escalation.ladder) if cfg.escalation.ladder else DEFAULT_LADDER
