"""Throughput of `monitor replay`'s sandbox: a month of generated history, in event time.

History (≥ 200,000 posts over 30 days of March 2025, from ../shared/data, never copied):
- incident stories: each CEC report's opening sentence, placed in a Ziyang town, breaks at a
  time drawn with the day's rhythm (few posts at night) and is retold and reposted in a burst
  that decays over hours (lognormal sizes: most stories small, a few in the thousands);
- everyday posts: THUCNews headlines and CED Weibo posts at the day's rhythm, the bulk;
- answers: about half the stories get a release 1-8 h after they broke.

The replay runs in a child process (so its peak memory is its own), as `monitor replay` does:
read the file, run the sandbox, write incidents.json and report.html. Prints posts/s for the
sandbox alone and end to end, and the child's peak RSS.

    .venv/bin/python -m benchmarks.replay [--posts 200000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._data import SHARED

START = datetime(2025, 2, 28, 16, 0, tzinfo=UTC)  # 1 March 2025, 00:00 in Ziyang
DAYS = 30
# relative posting rate by hour of day in Beijing time (night low, evening peak)
RHYTHM = [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.4, 0.8, 1.1, 1.2, 1.2, 1.2,
          1.3, 1.2, 1.1, 1.1, 1.1, 1.2, 1.3, 1.5, 1.6, 1.5, 1.1, 0.6]  # fmt: skip


def _rows(name: str) -> list[dict[str, Any]]:
    with (SHARED / "corpora" / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _moment(rng: random.Random) -> datetime:
    """A time in the month, weighted by the hour of day."""
    day = rng.randrange(DAYS)
    hour = rng.choices(range(24), weights=RHYTHM)[0]
    return START + timedelta(days=day, hours=hour, seconds=rng.randrange(3600))


def _first_sentence(text: str) -> str:
    for stop in "。！？\n":
        if stop in text[10:]:
            return text[: text.index(stop, 10) + 1]
    return text[:120]


def generate(n: int, seed: int) -> list[dict[str, Any]]:
    from monitor.config import load_config

    rng = random.Random(seed)
    towns = [(c.name, t.name) for c in load_config().jurisdiction.counties for t in c.towns]
    cec = _rows("cec_dev.jsonl")
    ced = [r["text"] for r in _rows("ced_original_microblogs.jsonl") if r.get("text")]
    thuc = [r["title"] for r in _rows("thucnews_titles_test_dev.jsonl")]
    rows: list[dict[str, Any]] = []
    end = START + timedelta(days=DAYS)
    incident_posts = 0
    stories = 0
    while incident_posts < n * 0.15:
        report = cec[stories % len(cec)]
        county, town = towns[rng.randrange(len(towns))]
        story = f"{county}{town}{_first_sentence(report['text'])}"
        t0 = _moment(rng)
        size = max(1, min(5000, int(rng.lognormvariate(3.0, 1.3))))
        sid = f"s{stories}"
        # retold and reposted over the next hours, fewer as it ages (most within a day)
        later = sorted(rng.expovariate(1 / (4 * 3600)) for _ in range(size - 1))
        for k, offset in enumerate([0.0, *later]):
            at = t0 + timedelta(seconds=offset)
            if at >= end:
                break
            text = story if k == 0 else ("转发：" if rng.random() < 0.6 else "网友称，") + story
            row = {"id": f"{sid}-{k}", "text": text, "source": "weibo", "published_at": at,
                   "author_followers": int(rng.paretovariate(1.2) * 200)}  # fmt: skip
            if k and rng.random() < 0.6:
                row["repost_of"] = f"{sid}-0"
            rows.append(row)
            incident_posts += 1
        if rng.random() < 0.5:
            at = t0 + timedelta(minutes=rng.randrange(60, 480))
            rows.append({"type": "answer", "post_id": f"{sid}-0", "kind": "release",
                         "by": "值班员", "at": at, "channel": "政府网站",
                         "url": f"https://www.ziyang.gov.cn/xxgk/{sid}"})  # fmt: skip
        stories += 1
    everyday = ced + thuc
    for i in range(n - incident_posts):
        text = everyday[i % len(everyday)]
        rows.append({"id": f"e{i}", "text": text, "source": "weibo",
                     "published_at": _moment(rng)})  # fmt: skip
    for r in rows:
        for f in ("published_at", "at"):
            if f in r:
                r[f] = r[f].isoformat()
    return rows


def child(path: str, out: str) -> None:
    """The replay as the command runs it; one JSON line of figures on stdout."""
    from monitor.config import load_config
    from monitor.replay.history import read_history
    from monitor.replay.report import write_report
    from monitor.replay.run import replay_once

    cfg = load_config()
    t0 = time.perf_counter()
    inputs, bad = read_history(path)
    t1 = time.perf_counter()
    result = replay_once(cfg, inputs, Path(out) / "dry.jsonl", quiet=True)
    t2 = time.perf_counter()
    (Path(out) / "incidents.json").write_text(
        json.dumps(result.incidents, ensure_ascii=False), "utf-8"
    )
    write_report(Path(out) / "report.html", result, source=path, bad=len(bad), whatif=None)
    t3 = time.perf_counter()
    use = resource.getrusage(resource.RUSAGE_SELF)
    rss_kib = use.ru_maxrss
    print(json.dumps({
        "posts": result.posts_in, "answers": result.answers_in, "bad": len(bad),
        "incidents": len(result.incidents), "notifications": result.deliveries,
        "read_s": t1 - t0, "sandbox_s": t2 - t1, "write_s": t3 - t2, "rss_mib": rss_kib / 1024,
        "cpu_s": use.ru_utime + use.ru_stime,
    }))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--child", nargs=2, metavar=("FILE", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if not (SHARED / "corpora" / "cec_dev.jsonl").is_file():
        print(f"skipped: the development corpora are not at {SHARED} (set YUQING_SHARED_DATA)")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        rows = generate(args.posts, args.seed)
        path = Path(tmp) / "history.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        posts = sum(1 for r in rows if "text" in r)
        span = max(r["published_at"] for r in rows if "text" in r)
        print(f"history: {posts:,} posts, {len(rows) - posts:,} answers, "
              f"{path.stat().st_size / 2**20:.0f} MiB, 2025-03-01 .. {span[:10]}")  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.replay", "--child", str(path), tmp],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        f = json.loads(done.stdout.strip().splitlines()[-1])
    total = f["read_s"] + f["sandbox_s"] + f["write_s"]
    print(f"replayed: {f['posts']:,} posts, {f['answers']:,} answers -> {f['incidents']:,} "
          f"incidents, {f['notifications']:,} notifications recorded (none sent)")  # fmt: skip
    print(f"sandbox alone:      {f['posts'] / f['sandbox_s']:>9,.0f} posts/s "
          f"({f['sandbox_s']:.1f} s)")  # fmt: skip
    print(f"read + run + write: {f['posts'] / total:>9,.0f} posts/s ({total:.1f} s; "
          f"read {f['read_s']:.1f} s, write {f['write_s']:.1f} s; child wall {wall:.1f} s "
          "with start-up)")  # fmt: skip
    print(f"per CPU second (the machine is shared): {f['posts'] / f['cpu_s']:>9,.0f} posts/s "
          f"({f['cpu_s']:.1f} s of CPU in the child, start-up included)")  # fmt: skip
    print(f"peak memory (child RSS): {f['rss_mib']:,.0f} MiB")
    print(f"goal >= 20,000 posts/s: {'met' if f['posts'] / f['sandbox_s'] >= 20_000 else 'not met'}"
          " (sandbox alone)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
