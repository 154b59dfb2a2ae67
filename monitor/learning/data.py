"""The labelled development set: label records from `labels/*.jsonl`, joined at run time to the
texts in ../shared/data (never copied into the project; docs/LABELLING.md, "Label records").

    labels = read_labels(["labels/ced.jsonl", ...])   # LabelError names file:line
    data = SharedData.locate()                        # DataUnavailable says why
    examples = data.join(labels)                      # refuses reserved CED idx, stale headlines
    negatives = data.weak_negatives()                 # THUCNews headlines of other topics

Weak negatives carry no hand label: a headline filed under finance, realty, stocks, education,
science, sports, game or entertainment is not an incident report by the corpus's own topic, so
`learn` may use them as `none` and `eval` measures how many of them the classifier flags.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config.schema import CATEGORY_KEYS, NONE_KEY

CORPORA = ("ced", "thucnews", "cec")
# THUCNews topics whose headlines were read and labelled; every other topic is a weak negative.
LABELLED_TOPICS = frozenset({"society", "politics"})
CED_FILE = "corpora/ced_original_microblogs.jsonl"
CED_RESERVED = "corpora/ced_reserved_idx.txt"
THUCNEWS_FILE = "corpora/thucnews_titles_test_dev.jsonl"
CEC_FILE = "corpora/cec_dev.jsonl"
_FIELDS = {"corpus", "id", "is_incident", "category", "borderline", "foreign", "sha", "note"}


class LabelError(ValueError):
    """A label record that cannot be used; the message starts with file:line."""


class DataUnavailable(RuntimeError):
    """../shared/data (or a file in it) is absent: the texts cannot be joined."""


@dataclass(frozen=True, slots=True)
class Label:
    corpus: str
    id: str
    is_incident: bool
    category: str
    borderline: bool
    foreign: bool
    where: str  # file:line, for every later complaint about this record
    sha: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """A text with its truth. `weak`: a label by corpus topic, not read by a person."""

    corpus: str
    id: str
    text: str
    is_incident: bool
    category: str
    weak: bool = False
    borderline: bool = False
    topic: str | None = None  # THUCNews topic

    @property
    def key(self) -> tuple[str, str]:
        return (self.corpus, self.id)


def read_labels(paths: Iterable[str | Path]) -> list[Label]:
    """Every record of the files, validated; the first bad line raises LabelError(file:line)."""
    labels: list[Label] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                label = parse_label(line, where)
                key = (label.corpus, label.id)
                if key in seen:
                    raise LabelError(f"{where}: {label.corpus} {label.id} is also labelled at "
                                     f"{seen[key]}")  # fmt: skip
                seen[key] = where
                labels.append(label)
    return labels


def parse_label(line: str, where: str) -> Label:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{where}: not JSON: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise LabelError(f"{where}: expected a JSON object")
    problem = _problem(raw)
    if problem:
        raise LabelError(f"{where}: {problem}")
    return Label(
        corpus=raw["corpus"], id=raw["id"], is_incident=raw["is_incident"],
        category=raw["category"], borderline=raw["borderline"], foreign=raw["foreign"],
        where=where, sha=raw.get("sha"),
    )  # fmt: skip


def _problem(raw: dict[str, Any]) -> str | None:
    unknown = set(raw) - _FIELDS
    if unknown:
        return f"unknown field(s) {', '.join(sorted(unknown))}"
    if raw.get("corpus") not in CORPORA:
        return f"`corpus` must be one of {', '.join(CORPORA)}, got {raw.get('corpus')!r}"
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        return "`id` must be a non-empty string"
    for flag in ("is_incident", "borderline", "foreign"):
        if not isinstance(raw.get(flag), bool):
            return f"`{flag}` must be true or false"
    category = raw.get("category")
    if category not in CATEGORY_KEYS:
        return f"unknown category {category!r}; known: {', '.join(CATEGORY_KEYS)}"
    if (category == NONE_KEY) == raw["is_incident"]:
        return "`category` is none exactly when `is_incident` is false"
    if raw["corpus"] == "thucnews" and not isinstance(raw.get("sha"), str):
        return "a thucnews label needs `sha` (10 hex digits of the title's SHA-1)"
    return None


def default_shared_dir() -> Path:
    """$YUQING_SHARED_DATA, else ../shared/data beside the project checkout."""
    env = os.environ.get("YUQING_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def title_sha(title: str) -> str:
    return hashlib.sha1(title.encode("utf-8")).hexdigest()[:10]


class SharedData:
    """The three corpora, read in place. Construct with `locate()`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reserved = frozenset(
            w for w in self._path(CED_RESERVED).read_text(encoding="utf-8").split() if w.isdigit()
        )
        self._ced = {str(r["idx"]): r["text"] for r in self._rows(CED_FILE)}
        self.headlines = [(r["title"], r["label"]) for r in self._rows(THUCNEWS_FILE)]
        self.cec = {r["id"]: r for r in self._rows(CEC_FILE)}

    @classmethod
    def locate(cls, root: Path | None = None) -> SharedData:
        return cls(root or default_shared_dir())

    def _path(self, relative: str) -> Path:
        path = self.root / relative
        if not path.is_file():
            raise DataUnavailable(
                f"reference data not found: {path} (the texts live outside the project in "
                "../shared/data; set YUQING_SHARED_DATA to where they are)"
            )
        return path

    def _rows(self, relative: str) -> list[dict[str, Any]]:
        with open(self._path(relative), encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def text(self, label: Label) -> str:
        """The text a label is about; LabelError when it is reserved, unknown or changed."""
        if label.corpus == "ced":
            if label.id in self.reserved:
                raise LabelError(
                    f"{label.where}: CED idx {label.id} is reserved for evaluation outside the "
                    f"project ({CED_RESERVED}): never label it"
                )
            if label.id not in self._ced:
                raise LabelError(f"{label.where}: no CED post with idx {label.id}")
            return self._ced[label.id]
        if label.corpus == "thucnews":
            n = int(label.id) if label.id.isdigit() else -1
            if not 0 <= n < len(self.headlines):
                raise LabelError(f"{label.where}: no THUCNews headline at line {label.id}")
            title = self.headlines[n][0]
            if title_sha(title) != label.sha:
                raise LabelError(
                    f"{label.where}: headline {n} is not the one labelled "
                    f"(sha {title_sha(title)} ≠ {label.sha}): the file changed"
                )
            return title
        row = self.cec.get(label.id)
        if row is None:
            raise LabelError(f"{label.where}: no CEC report with id {label.id!r}")
        return cec_text(row)

    def join(self, labels: Sequence[Label]) -> list[Example]:
        out = []
        for label in labels:
            topic = self.headlines[int(label.id)][1] if label.corpus == "thucnews" else None
            out.append(Example(
                label.corpus, label.id, self.text(label), label.is_incident, label.category,
                borderline=label.borderline, topic=topic,
            ))  # fmt: skip
        return out

    def weak_negatives(self) -> list[Example]:
        return [
            Example("thucnews", str(n), title, False, NONE_KEY, weak=True, topic=topic)
            for n, (title, topic) in enumerate(self.headlines)
            if topic not in LABELLED_TOPICS
        ]


def cec_text(row: dict[str, Any]) -> str:
    """A CEC report as the monitor reads a news item: title, then body."""
    return f"{row['title']}\n{row['text']}"
