"""Load YAML keeping the line of every value, so errors can point into the file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

Path_ = tuple[str | int, ...]
# libyaml's parser where it is built: the learned model took a second to parse in Python
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ConfigIssue:
    """One thing wrong with a config file: where, and why."""

    file: str
    line: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<root>'}: {self.reason}"


class ConfigError(Exception):
    """A config file was rejected. `issues` lists every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class LineMap:
    """Maps a value's path in the document to the line it starts on (1-based)."""

    def __init__(self) -> None:
        self._lines: dict[Path_, int] = {}

    def add(self, path: Path_, line: int) -> None:
        self._lines[path] = line

    def line_of(self, path: Path_) -> int | None:
        # A missing key has no line of its own: point at the nearest enclosing value.
        for cut in range(len(path), -1, -1):
            line = self._lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def _construct(
    node: yaml.Node, path: Path_, lines: LineMap, file: str, scalars: SafeConstructor
) -> Any:
    lines.add(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node, deep=True)
            if key in out:
                line = key_node.start_mark.line + 1
                raise ConfigError(
                    [ConfigIssue(file, line, format_path((*path, key)), "duplicate key")]
                )
            lines.add((*path, key), key_node.start_mark.line + 1)
            out[key] = _construct(value_node, (*path, key), lines, file, scalars)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(item, (*path, i), lines, file, scalars) for i, item in enumerate(node.value)
        ]
    # the node as safe_load gives it (its tag was resolved when it was composed); writing it
    # back out to parse it again took seconds for a learned model's tens of thousands of terms
    return scalars.construct_object(node, deep=True)


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        # the Python parser again, for its wording of what is wrong (libyaml words it
        # otherwise), which users and tests read
        return yaml.compose(text, Loader=yaml.SafeLoader)


def load_yaml(text: str, file: str = "<config>") -> tuple[Any, LineMap]:
    """Parse YAML text; return the data and the line of every path in it."""
    lines = LineMap()
    try:
        node = _compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise ConfigError([ConfigIssue(file, line, "", reason)]) from exc
    if node is None:
        raise ConfigError([ConfigIssue(file, 1, "", "the file is empty")])
    return _construct(node, (), lines, file, SafeConstructor()), lines


def read_yaml(path: str | Path) -> tuple[Any, LineMap]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError([ConfigIssue(str(p), None, "", "no such file")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(str(p), None, "", f"not UTF-8 text: {exc}")]) from exc
    return load_yaml(text, str(p))
