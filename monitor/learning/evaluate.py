"""How well the classifier does on the development set (`monitor eval`).

Every text goes through `Classifier.classify_text`, the path the worker runs. When the model was
learned from the same labels, each fold's model is learned again without that fold (k-fold
cross-validation) so no text is judged by a model that saw it; weak negatives are split into the
same folds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from monitor.config.model import LearnedModel
from monitor.config.schema import NONE_KEY, CityConfig
from monitor.domain.model import Casualties, Classification
from monitor.learning.casualties import FIELDS, gold_of, score
from monitor.learning.data import Example, SharedData

Tick = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Judged:
    example: Example
    got: Classification

    @property
    def incident_right(self) -> bool:
        return self.got.is_incident == self.example.is_incident

    @property
    def right(self) -> bool:
        return self.incident_right and self.got.category == self.example.category


def fold_of(example: Example, folds: int) -> int:
    """A fixed fold per text (a hash of corpus and id), so every run splits alike."""
    digest = hashlib.sha1(f"{example.corpus}:{example.id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % folds


def judge(
    examples: Sequence[Example], cfg: CityConfig, learned: LearnedModel | None, tick: Tick
) -> list[Judged]:
    from monitor.service import Classifier

    classifier = Classifier.from_config(cfg, learned=learned)
    out = []
    for e in examples:
        out.append(Judged(e, classifier.classify_text(e.id, e.text)))
        tick(1)
    return out


def cross_validate(
    examples: Sequence[Example], cfg: CityConfig, params: object, folds: int, tick: Tick,
    say: Callable[[str], None],
) -> list[Judged]:  # fmt: skip
    from monitor.learning.fit import Params, learn

    assert isinstance(params, Params)
    out: list[Judged] = []
    for k in range(folds):
        train = [e for e in examples if fold_of(e, folds) != k]
        test = [e for e in examples if fold_of(e, folds) == k]
        say(f"fold {k + 1}/{folds}: learning on {len(train)} texts")
        model = learn(train, cfg, params).model
        out += judge(test, cfg, model, tick)
    return out


@dataclass
class Report:
    judged: list[Judged]
    lines: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        self.lines.append(line)


def report(judged: Sequence[Judged], data: SharedData | None, worst: int = 20) -> list[str]:
    read = [j for j in judged if not j.example.weak]
    weak = [j for j in judged if j.example.weak]
    r = Report(list(judged))
    _incidents(r, read)
    _categories(r, read)
    _cec(r, read, data)
    if weak:
        flagged = [j for j in weak if j.got.is_incident]
        by_topic = Counter(j.example.topic for j in flagged)
        r.add(f"THUCNews headlines of other topics flagged as incidents: {len(flagged)}/"
              f"{len(weak)} = {len(flagged) / len(weak):.2%} (goal ≤ 0.5%)  "
              f"{dict(by_topic.most_common())}")  # fmt: skip
    _worst(r, read, worst)
    return r.lines


def _prf(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float, float, int, int, int]:
    tp = fp = fn = 0
    for gold, got in pairs:
        tp += gold and got
        fp += got and not gold
        fn += gold and not got
    p = tp / (tp + fp) if tp + fp else 0.0
    rc = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
    return p, rc, f1, tp, fp, fn


def _incidents(r: Report, read: Sequence[Judged]) -> None:
    r.add(f"is_incident on {len(read)} labelled texts (goal: precision ≥ 0.90, recall ≥ 0.95)")
    groups: dict[str, list[Judged]] = {"all": list(read)}
    for j in read:
        groups.setdefault(j.example.corpus, []).append(j)
    for name, group in groups.items():
        p, rc, f1, tp, fp, fn = _prf((j.example.is_incident, j.got.is_incident) for j in group)
        r.add(f"  {name:<9} precision {p:.3f}  recall {rc:.3f}  F1 {f1:.3f}  "
              f"(tp {tp}, fp {fp}, fn {fn}, n {len(group)})")  # fmt: skip


def _categories(r: Report, read: Sequence[Judged]) -> None:
    true = [j for j in read if j.example.is_incident]
    if not true:
        return
    right = sum(j.got.category == j.example.category for j in true)
    found = [j for j in true if j.got.is_incident]
    found_right = sum(j.got.category == j.example.category for j in found)
    r.add(f"category accuracy on {len(true)} true incidents: {right / len(true):.3f} "
          f"(goal ≥ 0.90; a missed incident counts as wrong); on the {len(found)} found: "
          f"{found_right / max(len(found), 1):.3f}")  # fmt: skip
    gold_keys = sorted({j.example.category for j in true})
    got_keys = [*sorted({j.got.category for j in true} - {NONE_KEY}), NONE_KEY]
    cells = Counter((j.example.category, j.got.category) for j in true)
    short = {k: k[:5] for k in got_keys}
    r.add("  confusion (rows: label, columns: classified; none = missed)")
    r.add("  " + " " * 17 + "".join(f"{short[k]:>6}" for k in got_keys) + "   acc")
    for g in gold_keys:
        n = sum(cells[(g, k)] for k in got_keys)
        row = "".join(f"{cells[(g, k)] or '.':>6}" for k in got_keys)
        r.add(f"  {g:<17}{row}  {cells[(g, g)] / n:.2f}")


def _cec(r: Report, read: Sequence[Judged], data: SharedData | None) -> None:
    cec = [j for j in read if j.example.corpus == "cec"]
    true = [j for j in cec if j.example.is_incident]
    if true:
        right = sum(j.got.category == j.example.category for j in true)
        r.add(f"CEC category accuracy on {len(true)} labelled incident reports: "
              f"{right / len(true):.3f} (goal ≥ 0.95)")  # fmt: skip
    if data is None or not cec:
        return
    golds = [gold_of(data.cec[j.example.id]) for j in cec]
    got: list[Casualties] = [j.got.casualties for j in cec]
    agreement = score(golds, got)
    r.add(f"casualty agreement on {len(cec)} CEC reports (CEC casualty_event_mentions vs "
          "extract.py, as classified)")  # fmt: skip
    for f in FIELDS:
        r.add(f"  {f:<8} n {agreement[f + '.n']:>3.0f}  recall {agreement[f + '.recall']:.3f}"
              f"  precision {agreement[f + '.precision']:.3f}  exact {agreement[f + '.exact']:.3f}"
              f"  extra {agreement[f + '.extra']:.0f}")  # fmt: skip


def _worst(r: Report, read: Sequence[Judged], n: int) -> None:
    """The errors the classifier was surest of, taken in turn from false alarms, misses and
    wrong categories, so one kind cannot hide the others."""
    kinds = [
        [j for j in read if j.got.is_incident and not j.example.is_incident],
        [j for j in read if j.example.is_incident and not j.got.is_incident],
        [j for j in read if j.incident_right and j.example.is_incident and not j.right],
    ]
    for kind in kinds:
        kind.sort(key=lambda j: (-j.got.confidence, j.example.corpus, j.example.id))
    picked: list[Judged] = []
    while len(picked) < n and any(kinds):
        for kind in kinds:
            if kind and len(picked) < n:
                picked.append(kind.pop(0))
    if not picked:
        return
    total = sum(1 for j in read if not j.right)
    r.add(f"the {len(picked)} worst of {total} errors (false alarms, misses and wrong categories "
          "in turn, surest first; label → classified):")  # fmt: skip
    for j in picked:
        e, g = j.example, j.got
        text = " ".join(e.text.split())[:160]
        r.add(f"  [{e.corpus} {e.id}] {e.category} → {g.category} ({g.confidence:.2f}; "
              f"{'、'.join(g.keywords)})")  # fmt: skip
        r.add(f"      {text}")
