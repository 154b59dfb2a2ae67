"""The configs a replay runs under: the base city config, and a what-if's alternative.

    base = load_config(path)                  # monitor.config: the city file as `monitor run`
    alt = load_rules("other.yaml", base_path) # a whole city file, or only what changes

A `--rules` file with a `jurisdiction` is a whole city config. Anything else is an overlay on
the base config: mappings merge key by key (one clock's `after`; a keyword model is changed
by naming another model file, `classifier: {model: FILE}`), anything else (a list, a number)
replaces. Either way it is validated as
`monitor run` validates a city file, every problem named at its line in the rules file, before
anything runs. A relative file (escalation ladder, learned model, trigger lexicon) is looked
for beside the file that names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor.config import DEFAULT_CONFIG, CityConfig, config_from, load_config
from monitor.config.loader import ConfigError, ConfigIssue, read_yaml


def merged(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merged(base[k], v) if k in base else v
        return out
    return over


def load_rules(path: str | Path, base: str | Path | None = None) -> CityConfig:
    rules = Path(path)
    data, lines = read_yaml(rules)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(str(rules), 1, "", "expected a mapping of config sections")])
    if "jurisdiction" in data:
        return load_config(rules)
    base_file = Path(base) if base is not None else DEFAULT_CONFIG
    base_data, _ = read_yaml(base_file)
    # the base's own files (ladder, learned model, trigger lexicon) stay the ones beside it;
    # files the overlay names are looked for beside the overlay
    for section, key in (("escalation", "ladder"), ("classifier", "model"),
                         ("classifier", "triggers")):  # fmt: skip
        value = (base_data.get(section) or {}).get(key)
        if value and not Path(value).is_absolute():
            base_data[section][key] = str(base_file.resolve().parent / value)
    return config_from(merged(base_data, data), lines, rules)
