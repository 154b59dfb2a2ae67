"""Accuracy of the classifier on real data.

- CEC development set (314 emergency reports): category accuracy (CEC categories mapped to
  ours), incident recall, and casualty agreement with the annotated casualty mentions.
- THUCNews headlines: share of non-society headlines wrongly flagged as incidents.

    .venv/bin/python -m benchmarks.eval_cec [--engine fast|jieba] [--errors N]
"""

from __future__ import annotations

import argparse
from collections import Counter

from benchmarks._data import CEC_TO_OURS, cec_text, read_jsonl
from monitor.config import load_config
from monitor.service import Classifier


def category_accuracy(clf: Classifier, rows: list[dict], show: int) -> float:
    right, confusion = 0, Counter()
    shown = 0
    for row in rows:
        want = CEC_TO_OURS[row["category"]]
        got = clf.classify_text(row["id"], cec_text(row))
        if got.category == want:
            right += 1
            continue
        confusion[(want, got.category)] += 1
        if shown < show:
            shown += 1
            print(f"  miss {want} → {got.category} {got.keywords}: {row['title']}")
    for (want, got), n in confusion.most_common(8):
        print(f"  confusion {want:>18} → {got:<18} {n}")
    return right / len(rows)


def false_incident_rate(clf: Classifier, rows: list[dict], show: int) -> tuple[float, Counter]:
    flagged, by_label = 0, Counter()
    others = [r for r in rows if r["label"] != "society"]
    shown = 0
    for row in others:
        got = clf.classify_text("t", row["title"])
        if got.is_incident:
            flagged += 1
            by_label[row["label"]] += 1
            if shown < show:
                shown += 1
                print(f"  flagged {row['label']}: {got.category} {got.keywords} {row['title']}")
    return flagged / len(others), by_label


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["fast", "jieba"], default="fast")
    ap.add_argument("--errors", type=int, default=0, help="print up to N misclassified items")
    args = ap.parse_args()
    clf = Classifier.from_config(load_config(), engine=args.engine)

    cec = read_jsonl("corpora/cec_dev.jsonl")
    acc = category_accuracy(clf, cec, args.errors)
    print(f"CEC category accuracy ({args.engine}): {acc:.3f} on {len(cec)} reports (goal ≥ 0.90)")
    incident = sum(clf.classify_text(r["id"], cec_text(r)).is_incident for r in cec) / len(cec)
    print(f"CEC incident recall: {incident:.3f}")
    try:
        from benchmarks.cec_casualties import casualty_agreement
    except ImportError:
        print("casualty agreement: benchmarks/cec_casualties.py not present")
    else:
        for field, value in casualty_agreement(cec).items():
            shown = f"{value:.0f}" if field.endswith((".n", ".extra")) else f"{value:.3f}"
            print(f"CEC casualty agreement {field}: {shown}")

    thuc = read_jsonl("corpora/thucnews_titles_test_dev.jsonl")
    rate, by_label = false_incident_rate(clf, thuc, args.errors)
    society = [r for r in thuc if r["label"] == "society"]
    soc = sum(clf.classify_text("t", r["title"]).is_incident for r in society) / len(society)
    print(f"THUCNews non-society headlines flagged as incidents: {rate:.3%} (goal ≤ 5%)")
    print(f"  by topic: {dict(by_label.most_common())}")
    print(f"THUCNews society headlines flagged as incidents: {soc:.1%} (for reference)")


if __name__ == "__main__":
    main()
