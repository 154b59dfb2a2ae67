"""Detection quality of the runtime classifier on hand-labelled real text, and how often the
fast path (Aho-Corasick) takes the jieba path's decision.

Labels: label records (docs/LABELLING.md; default the project's `labels/*.jsonl`) joined to
../shared/data at run time; `second_*.jsonl` files (a blind second reading of texts already
labelled) are left out of the default.
Agreement: every CED (reserved idx excluded), THUCNews and CEC text, labelled or not.

    .venv/bin/python -m benchmarks.detection [LABELS.jsonl ...] [--errors N] [--no-agreement]
    .venv/bin/python -m benchmarks.detection /work/labels/{cec,ced_a,ced_b,ced_c,thuc_*}.jsonl
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import sys
from collections.abc import Iterable
from typing import Any

from benchmarks._data import ROOT, SHARED, cec_text, read_jsonl
from monitor.config import load_config
from monitor.service import Classifier


def corpus_texts() -> dict[tuple[str, str], str]:
    """(corpus, id) → text for every text of the three corpora, reserved CED idx left out."""
    reserved = set((SHARED / "corpora/ced_reserved_idx.txt").read_text().split())
    texts: dict[tuple[str, str], str] = {}
    for r in read_jsonl("corpora/ced_original_microblogs.jsonl"):
        if str(r["idx"]) not in reserved:
            texts[("ced", str(r["idx"]))] = r["text"]
    for n, r in enumerate(read_jsonl("corpora/thucnews_titles_test_dev.jsonl")):
        texts[("thucnews", str(n))] = r["title"]
    for r in read_jsonl("corpora/cec_dev.jsonl"):
        texts[("cec", r["id"])] = cec_text(r)
    return texts


def read_labels(paths: Iterable[str]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("labels", nargs="*", help="label files (default labels/*.jsonl)")
    ap.add_argument("--errors", type=int, default=0, help="print this many errors")
    ap.add_argument("--no-agreement", action="store_true")
    args = ap.parse_args()
    texts = corpus_texts()
    cfg = load_config()
    fast = Classifier.from_config(cfg, engine="fast")
    found = sorted(glob.glob(str(ROOT / "labels" / "*.jsonl")))
    default = [p for p in found if "/second_" not in p]
    if not (args.labels or default):
        sys.exit("no label files: none under labels/ and none given (LABELS…)")
    labels = read_labels(args.labels or default)
    keyed = {(r["corpus"], r["id"]): r for r in labels}
    labels = [r for key, r in keyed.items() if key in texts]

    tp = fp = fn = tn = 0
    cat_ok = cat_n = found_ok = 0
    errors = []
    by_corpus: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    cat_by_corpus: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in labels:
        text = texts[(r["corpus"], r["id"])]
        c = fast.classify_text(r["id"], text)
        gold = bool(r["is_incident"])
        k = by_corpus[r["corpus"]]
        if gold and c.is_incident:
            tp += 1
            k[0] += 1
        elif c.is_incident:
            fp += 1
            k[1] += 1
        elif gold:
            fn += 1
            k[2] += 1
        else:
            tn += 1
            k[3] += 1
        if gold:
            cat_n += 1
            cat_ok += c.category == r["category"]
            found_ok += c.is_incident and c.category == r["category"]
            cat_by_corpus[r["corpus"]][0] += c.category == r["category"]
            cat_by_corpus[r["corpus"]][1] += 1
        if c.category != r["category"]:
            errors.append((r["corpus"], r["id"], r["category"], c.category, text[:120]))
    p = tp / max(tp + fp, 1)
    rc = tp / max(tp + fn, 1)
    print(f"{len(labels)} labelled texts: incident precision {p:.3f} recall {rc:.3f} "
          f"F1 {2 * p * rc / max(p + rc, 1e-9):.3f}; category accuracy on true incidents "
          f"{cat_ok}/{cat_n} = {cat_ok / max(cat_n, 1):.3f}, on those found {found_ok}/{tp} = "
          f"{found_ok / max(tp, 1):.3f}")  # fmt: skip
    for corpus, (a, b, c_, d) in sorted(by_corpus.items()):
        ok, n = cat_by_corpus[corpus]
        print(f"  {corpus}: tp {a} fp {b} fn {c_} tn {d}; category right on {ok}/{n} incidents")
    for e in errors[: args.errors]:
        print("  ", *e)

    others = [r["title"] for r in read_jsonl("corpora/thucnews_titles_test_dev.jsonl")
              if r["label"] not in ("society", "politics")]  # fmt: skip
    flagged = [t for t in others if fast.classify_text("h", t).is_incident]
    print(f"THUCNews headlines outside society and politics flagged: {len(flagged)}/{len(others)}"
          f" = {len(flagged) / len(others):.2%}")  # fmt: skip
    for t in flagged[: args.errors]:
        print("   flagged", t)

    if not args.no_agreement:
        slow = Classifier.from_config(cfg, engine="jieba")
        differ = []
        for key, text in texts.items():
            a, b = fast.classify_text("a", text), slow.classify_text("a", text)
            if (a.is_incident, a.category) != (b.is_incident, b.category):
                differ.append((key, a.category, b.category, text[:80]))
        n = len(texts)
        print(f"fast vs jieba: same decision on {n - len(differ)}/{n} = {1 - len(differ) / n:.4f}")
        for d in differ[: args.errors]:
            print("  ", *d)


if __name__ == "__main__":
    main()
