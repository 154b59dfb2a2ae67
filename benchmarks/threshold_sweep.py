"""What lowering `min_score` would trade: precision, recall and other-topic headlines flagged,
5-fold cross-validated on the labelled development set (learn refitted per fold, as in
`monitor eval`), for each shift of the learned threshold.

    .venv/bin/python -m benchmarks.threshold_sweep [PARAM=VALUE ...]   # e.g. long_weight=3

Each held-out text goes through `Classifier.explain` (the worker's detection, with its scores),
so one learning per fold gives the whole table. `monitor learn --threshold-shift X` ships a
chosen point.
"""

from __future__ import annotations

import sys
from dataclasses import fields

from monitor.config import load_config
from monitor.learning.data import SharedData, read_labels
from monitor.learning.evaluate import fold_of
from monitor.learning.fit import learn
from monitor.learning.params import Params
from monitor.service import Classifier

LABELS = ["labels/ced.jsonl", "labels/thucnews.jsonl", "labels/cec.jsonl"]
FOLDS = 5


def main() -> None:
    types = {f.name: type(getattr(Params(), f.name)) for f in fields(Params)}
    given = dict(a.split("=", 1) for a in sys.argv[1:])
    params = Params(**{k: types[k](v) for k, v in given.items()})
    cfg = load_config()
    data = SharedData.locate()
    examples = data.join(read_labels(LABELS)) + data.weak_negatives()
    rows = []  # (weak, gold incident, gold category, leader, best, against, min_score)
    for k in range(FOLDS):
        train = [e for e in examples if fold_of(e, FOLDS) != k]
        model = learn(train, cfg, params).model
        clf = Classifier.from_config(cfg, learned=model)
        for e in (e for e in examples if fold_of(e, FOLDS) == k):
            det, _ = clf.explain(e.text)
            scores = dict(det.scores)
            fired = {c for _, c, _ in det.triggers} - {"none"}
            pool = fired or {c for c in scores if c != "none"}
            leader = max(pool, key=lambda c: (scores.get(c, 0.0), c), default="none")
            best = scores.get(leader, 0.0)
            rows.append((e.weak, e.is_incident, e.category, leader, best,
                         scores.get("none", 0.0), model.min_score))  # fmt: skip
        print(f"fold {k + 1}/{FOLDS} done", file=sys.stderr)
    read = [r for r in rows if not r[0]]
    weak = [r for r in rows if r[0]]
    true = [r for r in read if r[1]]
    print(f"{params}")
    print("shift  precision  recall     F1  category(true)  other-topic flagged")
    for shift in range(0, 9):
        def flagged(r: tuple, shift: int = shift) -> bool:
            return r[4] > 0 and r[4] >= r[6] - shift and r[4] > r[5]

        tp = sum(1 for r in read if r[1] and flagged(r))
        fp = sum(1 for r in read if not r[1] and flagged(r))
        p, rc = tp / max(tp + fp, 1), tp / len(true)
        cat = sum(1 for r in true if flagged(r) and r[3] == r[2]) / len(true)
        other = sum(1 for r in weak if flagged(r)) / max(len(weak), 1)
        print(f"{shift:>5}  {p:>9.3f}  {rc:>6.3f}  {2 * p * rc / (p + rc):.3f}  {cat:>14.3f}"
              f"  {other:>19.2%}")  # fmt: skip


if __name__ == "__main__":
    main()
