"""Casualty agreement of extract_casualties with the CEC annotations, and its speed.

    .venv/bin/python -m benchmarks.cec_casualties [--errors N]

The gold and the scoring, and how they are defined, live in monitor/learning/casualties.py
(`monitor eval` reports the same figures).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from benchmarks._data import cec_text, read_jsonl
from monitor.domain.extract import extract_casualties
from monitor.learning.casualties import FIELDS, gold_of, score


def casualty_agreement(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per field: n, recall, precision, exact and extra, as `<field>.<measure>` keys."""
    got = [extract_casualties(cec_text(row)) for row in rows]
    return score([gold_of(row) for row in rows], got)


def posts_per_second(texts: list[str], run: Callable[[str], object], rounds: int = 20) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for t in texts:
            run(t)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def show_errors(rows: list[dict[str, Any]], limit: int) -> None:
    shown = 0
    for row in rows:
        gold, got = gold_of(row), extract_casualties(cec_text(row))
        wrong = {f: (g, getattr(got, f)) for f, g in gold.items() if getattr(got, f) != g}
        if wrong and shown < limit:
            shown += 1
            print(
                f"  {row['id']}: "
                + ", ".join(f"{f} gold {g} got {p}" for f, (g, p) in wrong.items())
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", type=int, default=0, help="print up to N disagreements")
    parser.add_argument("--file", default="corpora/cec_dev.jsonl")
    args = parser.parse_args()
    rows = read_jsonl(args.file)
    scores = casualty_agreement(rows)
    print(f"CEC casualty agreement over {len(rows)} reports (title + text)")
    print(f"{'field':<9}{'n':>5}{'recall':>9}{'precision':>11}{'exact':>8}{'extra':>7}")
    for f in FIELDS:
        print(
            f"{f:<9}{scores[f + '.n']:>5.0f}{scores[f + '.recall']:>9.3f}"
            f"{scores[f + '.precision']:>11.3f}{scores[f + '.exact']:>8.3f}"
            f"{scores[f + '.extra']:>7.0f}"
        )
    texts = [cec_text(r) for r in rows]
    chars = sum(map(len, texts)) / len(texts)
    rate = posts_per_second(texts, extract_casualties)
    print(f"extract_casualties: {rate:,.0f} posts/s on one core (mean {chars:.0f} chars/post)")
    if args.errors:
        show_errors(rows, args.errors)


if __name__ == "__main__":
    main()
