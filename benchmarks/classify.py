"""Throughput of `monitor classify` on one core, as a user runs it, beside plain `jieba.cut`.

Texts: 30,000 real posts: every CED Weibo post (reserved idx excluded) and CEC report (title +
text) in ../shared/data, 3,401 texts, cycled to 30,000 with fresh ids; `--headlines` adds the
20,000 THUCNews headlines (mean 20 characters, where per-post costs dominate).
Every rate is posts per second of CPU time on one core (the machine is shared: wall time also
counts waiting for other processes).
Prints posts/s for:
- the whole `monitor classify --stats FILE` process (JSON lines in, JSON lines out, fast path)
  pinned to one core, as it reports itself from the first line read to the last written
  (start-up excluded); and its total CPU less a one-post run's (exit and teardown included);
- plain `jieba.cut` over the same texts, in this process on the same core (the baseline);
- the classify core in this process (text in, Classification out; no JSON);
- the core with the jieba scanner, on a sample.

    .venv/bin/python -m benchmarks.classify [--posts N] [--repeat N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from benchmarks.detection import corpus_texts
from monitor.config import load_config
from monitor.service import Classifier


def rate(fn: Callable[[str], object], texts: list[str], repeat: int) -> float:
    """Posts per second of this process's CPU time (best of `repeat`)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for text in texts:
            fn(text)
        best = min(best, time.process_time() - start)
    return len(texts) / best


def process_run(path: Path, core: int) -> tuple[float, float]:
    """One `monitor classify --stats` process over `path`, pinned to `core`: (its own posts/s
    of CPU time, start-up excluded, from --stats; its total CPU seconds, exit included)."""
    cmd = [sys.executable, "-m", "monitor", "classify", "--stats", str(path)]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )  # fmt: skip
    assert proc.stderr is not None
    stats = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        sys.exit(f"monitor classify failed: {stats}")
    found = re.search(r"\(([\d,]+) posts/s\)", stats)
    if found is None:
        sys.exit(f"no --stats line from monitor classify: {stats!r}")
    return float(found.group(1).replace(",", "")), usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--headlines", action="store_true", help="add the THUCNews headlines")
    args = ap.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})

    corpus = [t for (name, _), t in corpus_texts().items() if args.headlines or name != "thucnews"]
    texts = list(itertools.islice(itertools.cycle(corpus), args.posts))
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} posts ({len(corpus)} distinct real texts), mean {chars:.0f} chars, "
          f"core {core}")  # fmt: skip

    encoder = msgspec.json.Encoder()
    with tempfile.TemporaryDirectory() as tmp:
        full, one = Path(tmp, "posts.jsonl"), Path(tmp, "one.jsonl")
        full.write_bytes(b"".join(encoder.encode({"id": i, "text": t}) + b"\n"
                                  for i, t in enumerate(texts)))  # fmt: skip
        one.write_bytes(encoder.encode({"id": 0, "text": texts[0]}) + b"\n")
        process_run(one, core)  # warm the page cache
        runs = [process_run(full, core) for _ in range(args.repeat)]
        alone = min(process_run(one, core)[1] for _ in range(args.repeat))
    whole = max(r for r, _ in runs)
    # the same process's total CPU, less a one-post run's: start-up out, exit and teardown in
    with_exit = len(texts) / max(min(cpu for _, cpu in runs) - alone, 1e-9)

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    base = rate(lambda t: list(jieba.cut(t)), texts, 1)
    cfg = load_config()
    fast = Classifier.from_config(cfg, engine="fast")
    core_rate = rate(lambda t: fast.classify_text("b", t), texts, args.repeat)
    slow = Classifier.from_config(cfg, engine="jieba")
    jieba_core = rate(lambda t: slow.classify_text("b", t), texts[:5000], 1)

    print(f"monitor classify, whole process:   {whole:>10,.0f} posts/s "
          f"({whole / base:.1f}× jieba.cut; goals ≥ 20,000 and ≥ 15×), JSON in and out, "
          f"start-up excluded (--stats)")  # fmt: skip
    print(f"  the same, exit included:         {with_exit:>10,.0f} posts/s "
          f"({with_exit / base:.1f}×; process CPU less a one-post run's)")  # fmt: skip
    print(f"plain jieba.cut (baseline):        {base:>10,.0f} posts/s of CPU time")
    print(f"classify core, fast path (Aho):    {core_rate:>10,.0f} posts/s "
          f"({core_rate / base:.1f}× jieba.cut)")  # fmt: skip
    print(f"classify core, jieba scanner:      {jieba_core:>10,.0f} posts/s (5,000 posts)")


if __name__ == "__main__":
    main()
