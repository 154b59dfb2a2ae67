"""Casualty agreement of extract_casualties with the CEC annotations, and its speed.

    .venv/bin/python -m benchmarks.cec_casualties [--errors N]

The gold and the scoring live in monitor/learning/casualties.py (`monitor eval` reports the same
figures). Gold per report comes from `casualty_event_mentions`: a mention whose trigger
(denoter) names a field and whose participant spans hold a number. Numbers in the spans are
read with cn2an, not with the extractor's own numeral reader, so the two do not share mistakes.
Per field the gold
is the largest mention (a rising toll), except injuries: CEC annotates 3人重伤，14人轻微伤 as
two mentions, so gold injured is max(plain 受伤, 重伤 + 轻伤 + 轻微伤), which is what
"injured = all injured" means. A denied 伤亡/死亡/被困 (polarity negative, 无人员伤亡) with no
numbered mention of the field gives a gold 0.

Scored on title + text, per field, over the reports whose gold has a number:
recall = a number was extracted, precision = of those, the share equal to gold, exact = equal
to gold over all of them. `extra` counts reports with no gold number where a positive number
was extracted; CEC annotates only some mentions, so these are not all wrong.
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
