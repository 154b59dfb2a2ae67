"""Write a learned model as YAML an analyst can read and edit: a header saying how it was made,
then `min_score` and each category's terms, heaviest first, wrapped like the city file."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from monitor.config.model import LearnedModel
from monitor.config.schema import NONE_KEY

WIDTH = 100


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def render(model: LearnedModel, labels: Mapping[str, str]) -> str:
    """`labels`: category key → its Chinese label, for the comment above each category."""
    rec = model.learned or {}
    out = [
        "# Learned keyword model: written by `monitor learn`; analysts may edit it (re-running",
        "# the command below overwrites it). Per category: terms and their weights; a text scores",
        "# the sum of the weights of the distinct terms found in it, and the event lexicon",
        "# (triggers.yaml) and stated casualties add to that. It is an incident when the best",
        "# category reaches min_score and beats `none` (evidence that it is not an incident).",
        "#",
        f"# command: {rec.get('command', '?')}",
        f"# date:    {rec.get('date', '?')}",
    ]
    for item in rec.get("inputs", []):
        out.append(f"# input:   {item['file']}  sha256 {item['sha256']}")
    out += ["", "learned:"]
    for key, value in rec.items():
        out.append(f"  {key}: {_flow(value)}")
    out += ["", f"min_score: {model.min_score}", "", "categories:"]
    order = [*sorted(k for k in model.categories if k != NONE_KEY), NONE_KEY]
    for key in order:
        spec = model.categories[key]
        label = labels.get(key, "")
        out.append(f"  {key}:{'  # ' + label if label else ''}")
        out += _wrapped("    terms: {", [f"{_key(t)}: {w:g}" for t, w in spec.terms.items()])
        if spec.phrases:
            out.append("    phrases:")
            for p in spec.phrases:
                words = ", ".join(map(_key, p.all))
                out.append(f"      - {{all: [{words}], weight: {p.weight:g}}}")
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    """Columns on screen: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrapped(opening: str, items: list[str]) -> list[str]:
    lines, line = [], opening
    indent = " " * len(opening)
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else "}")
        too_wide = _width(line) + _width(piece.rstrip()) > WIDTH
        if too_wide and line.strip() not in ("", opening.strip()):
            lines.append(line.rstrip())
            line = indent
        line += piece
    if not items:
        line += "}"
    lines.append(line.rstrip())
    return lines


def _key(term: str) -> str:
    """A term as YAML reads it back: quoted when plain text would change (yes, 3, a: b)."""
    try:
        back = yaml.safe_load(f"{{{term}: 1}}")
    except yaml.YAMLError:
        back = None
    return term if back == {term: 1} else json.dumps(term, ensure_ascii=False)


def _flow(value: Any) -> str:
    dumped: str = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True,
                                 width=10_000, sort_keys=False)  # fmt: skip
    return dumped.strip().removesuffix("...").strip()
