"""Copy the readers' label files into labels/, one file per corpus, ids and labels only.

    python tools/copy_labels.py /work/labels

Reads SRC/ced_*.jsonl, SRC/thuc_*.jsonl and SRC/cec.jsonl (the files the readers write, in the
format of docs/LABELLING.md), validates every record (monitor/learning/data.py: file:line on the
first bad one, reserved CED idx refused when ../shared/data is present), keeps only the record
fields (never a text), sorts by id, and writes labels/ced.jsonl, labels/thucnews.jsonl and
labels/cec.jsonl. Other files in SRC (a second reader's sample, scripts) are not copied.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from monitor.learning.data import DataUnavailable, SharedData, read_labels

OUT = Path(__file__).resolve().parents[1] / "labels"
SOURCES = {"ced": "ced_*.jsonl", "thucnews": "thuc_*.jsonl", "cec": "cec.jsonl"}
FIELDS = ("corpus", "id", "sha", "is_incident", "category", "borderline", "foreign", "note")


def main(src: Path) -> None:
    try:
        data: SharedData | None = SharedData.locate()
    except DataUnavailable as exc:
        print(f"not checked against the texts: {exc}", file=sys.stderr)
        data = None
    counts: dict[str, list[dict[str, object]]] = {}
    for corpus, pattern in SOURCES.items():
        files = sorted(src.glob(pattern))
        labels = read_labels(files)
        if data is not None:
            data.join(labels)  # refuses reserved idx, unknown ids and changed headlines
        raw = [json.loads(line) for f in files for line in f.open(encoding="utf-8") if line.strip()]
        raw.sort(key=lambda r: (int(r["id"]) if r["id"].isdigit() else 0, r["id"]))
        out = OUT / f"{corpus}.jsonl"
        with out.open("w", encoding="utf-8") as f:
            for r in raw:
                kept = {k: r[k] for k in FIELDS if k in r}
                f.write(json.dumps(kept, ensure_ascii=False) + "\n")
        print(f"{out}: {len(raw)} records from {', '.join(p.name for p in files)}")
        counts[corpus] = raw
    print(table(counts))


def table(counts: dict[str, list[dict[str, object]]]) -> str:
    """The counts table of labels/README.md."""
    rows = ["| corpus | texts | incidents | not | borderline | foreign |", "|---" * 6 + "|"]
    for corpus, raw in counts.items():
        inc = sum(1 for r in raw if r["is_incident"])
        rows.append(f"| {corpus} | {len(raw)} | {inc} | {len(raw) - inc} | "
                    f"{sum(1 for r in raw if r['borderline'])} | "
                    f"{sum(1 for r in raw if r['foreign'])} |")  # fmt: skip
    every = [r for raw in counts.values() for r in raw]
    cats = Counter(str(r["category"]) for r in every if r["is_incident"])
    rows.append("")
    rows.append("Incidents by category: " + ", ".join(f"{k} {n}" for k, n in cats.most_common()))
    return "\n".join(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
