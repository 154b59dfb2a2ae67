"""Cost of the pure incident domain per post: assign + open/add_post, and clock evaluation.

Feeds real Weibo texts (../shared/data/corpora/ced_original_microblogs.jsonl, read in place) as
posts of one category into a handful of live incidents, the way one partition of the streams
layer sees them, and prints posts/s on one core. No broker, no I/O: this is the ceiling the
domain puts on a worker.

    .venv/bin/python -m benchmarks.incident_domain [--posts 20000] [--stories 20]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

import msgspec

from benchmarks._data import read_jsonl
from monitor.domain import clocks
from monitor.domain.incidents import add_post, assign, open_incident
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState

COUNTIES = ("512002", "512021", "512022")


def classified(pid: str, i: int) -> Classification:
    county = COUNTIES[i % len(COUNTIES)]
    return Classification(
        post_id=pid, is_incident=True, category="fire", confidence=0.9, keywords=(),
        casualties=Casualties(), location=Location(city_code="5120", county_code=county),
        grade=Grade.IV if i % 50 else Grade.II, grade_basis=None,
        responsible=Responsible(level="county", lead="县人民政府"),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument(
        "--stories", type=int, default=0,
        help="posts retell this many stories (0: every post is a new story, the worst case)",
    )  # fmt: skip
    args = parser.parse_args()
    corpus = [r["text"] for r in read_jsonl("corpora/ced_original_microblogs.jsonl")]
    if args.stories:
        # a retelling: the story's text with another post's opening as comment
        texts = [f"{corpus[j % 997][:20]}//{corpus[j % args.stories]}" for j in range(len(corpus))]
    else:
        texts = corpus
    params = IncidentParams()
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    states: dict[str, IncidentState] = {}
    opened = events = 0
    start = time.perf_counter()
    for i in range(args.posts):
        pid = f"w{i}"
        text = texts[i % len(texts)]
        post = Post(id=pid, text=text, published_at=t0 + timedelta(seconds=i), author_followers=i)
        cls = classified(pid, i)
        live = [s for s in states.values() if s.status.live]
        decision = assign(live, post, cls, params, "5120")
        if decision.action == "open":
            out = open_incident(post, cls, params, decision)
            opened += 1
        else:
            out = add_post(states[str(decision.incident_id)], post, cls, params, decision=decision)
        states[out.state.id] = out.state
        events += len(out.events)
        if len(states) > 200:  # one partition keeps only recent incidents hot
            for key in sorted(states, key=lambda k: states[k].last_seen)[:100]:
                del states[key]
    elapsed = time.perf_counter() - start
    print(
        f"assign+add: {args.posts / elapsed:,.0f} posts/s "
        f"({opened} incidents opened, {events} events)"
    )
    biggest = max(states.values(), key=lambda s: s.heat.posts)
    encoded = msgspec.json.encode(biggest)
    n = 2000
    start = time.perf_counter()
    for _ in range(n):
        msgspec.json.decode(msgspec.json.encode(biggest), type=IncidentState)
    enc = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for k in range(n):
        clocks.evaluate(biggest, biggest.last_seen + timedelta(minutes=k))
    ev = (time.perf_counter() - start) / n
    print(
        f"largest incident: {biggest.heat.posts} posts, {len(encoded):,} bytes as JSON, "
        f"encode+decode {enc * 1e6:.0f} µs, evaluate {ev * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    main()
