"""Throughput of `monitor classify`'s core on one core, beside plain `jieba.cut`.

Texts: the CEC development set (title + text) and the CED Weibo posts in ../shared/data.
Prints posts/s for: plain jieba.cut (baseline), the full classify core with the jieba scanner,
and the full classify core with the Aho-Corasick fast path; and how often the two scanners
agree on the category.

    .venv/bin/python -m benchmarks.classify [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from benchmarks._data import cec_text, read_jsonl
from monitor.config import load_config
from monitor.service import Classifier


def rate(fn: Callable[[str], object], texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    cec = [cec_text(r) for r in read_jsonl("corpora/cec_dev.jsonl")]
    weibo = [r["text"] for r in read_jsonl("corpora/ced_original_microblogs.jsonl")]
    texts = cec + weibo
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} texts ({len(cec)} CEC + {len(weibo)} Weibo), mean {chars:.0f} chars")

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    cfg = load_config()
    fast = Classifier.from_config(cfg, engine="fast")
    slow = Classifier.from_config(cfg, engine="jieba")
    slow.classify_text("warm", texts[0])

    base = rate(lambda t: list(jieba.cut(t)), texts, 1)
    print(f"plain jieba.cut (baseline):        {base:>10,.0f} posts/s")
    jieba_core = rate(lambda t: slow.classify_text("b", t), texts, 1)
    print(f"classify core, jieba scanner:      {jieba_core:>10,.0f} posts/s")
    fast_core = rate(lambda t: fast.classify_text("b", t), texts, args.repeat)
    print(f"classify core, fast path (Aho):    {fast_core:>10,.0f} posts/s "
          f"({fast_core / base:.1f}× jieba.cut; goal ≥ 20,000)")  # fmt: skip

    for name, group in (("CEC", cec), ("Weibo", weibo)):
        same = sum(
            fast.classify_text("a", t).category == slow.classify_text("a", t).category
            for t in group
        )
        print(f"same category, fast vs jieba, {name}: {same}/{len(group)}")


if __name__ == "__main__":
    main()
