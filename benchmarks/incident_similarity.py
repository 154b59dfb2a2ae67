"""How well does text similarity tell one event from another of the same category?

Pairs from the CEC corpus (../shared/data/corpora/cec_dev.jsonl, read in place):
- same event: a report's headline against its own body (short vs long, as a Weibo post vs a
  news report), and the body's first paragraph against the rest (two accounts of one event);
- different events: a headline against the bodies of other reports of the same category,
  which is the hard case for assignment (same family, same window, maybe the same county).

It prints, per measure, how many same-event pairs reach the threshold (joins) and how many
different-event pairs do (false joins), for the overlap coefficient used by
monitor.domain.incidents, plain Jaccard, and datasketch MinHash's Jaccard estimate.

    .venv/bin/python -m benchmarks.incident_similarity [--threshold 0.2]
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Callable

from datasketch import MinHash

from benchmarks._data import read_jsonl
from monitor.domain.incidents import bigrams, overlap


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def minhash(a: frozenset[str], b: frozenset[str], cache: dict[frozenset[str], MinHash]) -> float:
    def sig(s: frozenset[str]) -> MinHash:
        if s not in cache:
            m = MinHash(num_perm=128, seed=1)
            m.update_batch([x.encode() for x in s])
            cache[s] = m
        return cache[s]

    return float(sig(a).jaccard(sig(b)))


def pairs(rows: list[dict[str, str]], rng: random.Random) -> tuple[list, list]:
    by_cat: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_cat[r["category"]].append(r)
    same, different = [], []
    for r in rows:
        paras = [p for p in r["text"].split("\n") if p.strip()]
        same.append((r["title"], r["text"]))
        if len(paras) >= 2:
            same.append((paras[0], "\n".join(paras[1:])))
        others = [o for o in by_cat[r["category"]] if o["id"] != r["id"]]
        for o in rng.sample(others, min(5, len(others))):
            different.append((r["title"], o["text"]))
    return same, different


def rate(scores: list[float], threshold: float) -> float:
    return sum(s >= threshold for s in scores) / len(scores)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=0.2)
    args = parser.parse_args()
    rows = read_jsonl("corpora/cec_dev.jsonl")
    same, different = pairs(rows, random.Random(7))
    cache: dict[frozenset[str], MinHash] = {}
    measures: dict[str, Callable[[frozenset[str], frozenset[str]], float]] = {
        "overlap (used)": overlap,
        "jaccard": jaccard,
        "minhash jaccard": lambda a, b: minhash(a, b, cache),
    }
    print(
        f"CEC: {len(rows)} reports, {len(same)} same-event pairs, "
        f"{len(different)} different-event pairs"
    )
    for name, fn in measures.items():
        s = [fn(bigrams(a), bigrams(b)) for a, b in same]
        d = [fn(bigrams(a), bigrams(b)) for a, b in different]
        for t in sorted({args.threshold, 0.1, 0.3}):
            print(
                f"{name:16} ≥{t:.2f}: joins {rate(s, t):6.1%} of same-event, "
                f"{rate(d, t):6.1%} of different-event"
            )


if __name__ == "__main__":
    main()
