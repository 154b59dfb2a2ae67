"""`monitor classify`, `monitor check-config`, `monitor route`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

import msgspec

from monitor.config import ConfigError, load_config
from monitor.domain.model import MAX_TEXT_BYTES
from monitor.jsonl import numbered_lines
from monitor.service import Classifier, Engine, contract, contract_record

# A line may carry more than the text; leave room for the other fields around a 1 MB text.
MAX_LINE_BYTES = MAX_TEXT_BYTES + 64_000


class ClassifyInput(msgspec.Struct, kw_only=True):
    id: str | int
    text: str
    title: str | None = None
    published_at: datetime | None = None
    source: str | None = None
    author: str | None = None


class BadLine(Exception):
    pass


_decoder = msgspec.json.Decoder(ClassifyInput)
_encoder = msgspec.json.Encoder()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="classify JSONL posts: one JSON object out per line in")
    p.add_argument("file", nargs="?", default="-", help="JSONL file, or - for stdin")
    p.add_argument("--config", help="city config YAML (default: Ziyang)")
    p.add_argument("--engine", choices=["fast", "jieba"], default="fast")
    p.add_argument("--dead-letter", metavar="FILE", help="append rejected lines here as JSONL")
    p.add_argument(
        "--stats", action="store_true",
        help="print posts/s to stderr at the end (CPU and wall time, start-up excluded)",
    )  # fmt: skip
    p.set_defaults(func=run_classify)

    c = sub.add_parser("check-config", help="validate a city config; print every error")
    c.add_argument("file")
    c.set_defaults(func=run_check_config)

    r = sub.add_parser("route", help="classify one text and show grade and responsible bodies")
    r.add_argument("text")
    r.add_argument("--config")
    r.set_defaults(func=run_route)


def parse_line(raw: bytes) -> ClassifyInput:
    if len(raw) > MAX_LINE_BYTES:
        raise BadLine(f"line is {len(raw)} bytes, over the {MAX_LINE_BYTES}-byte limit")
    try:
        item = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise BadLine(f"invalid record: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise BadLine(f"invalid JSON: {exc}") from exc
    if not item.text.strip():
        raise BadLine("`text` is empty")
    # a line within the limit holds a text within it: encode only the long ones to measure
    if len(raw) > MAX_TEXT_BYTES and len(item.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise BadLine(f"`text` is over {MAX_TEXT_BYTES} bytes")
    return item



def _classifier(args: argparse.Namespace, engine: Engine = "fast") -> Classifier | None:
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    return Classifier.from_config(cfg, engine=engine)


def run_classify(args: argparse.Namespace) -> int:
    classifier = _classifier(args, args.engine)
    if classifier is None:
        return 2
    started = (time.process_time(), time.perf_counter())
    count = 0
    source = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    dead = open(args.dead_letter, "ab") if args.dead_letter else None  # noqa: SIM115
    out = sys.stdout.buffer
    bad = 0
    name = "<stdin>" if args.file == "-" else args.file
    try:
        for number, raw in numbered_lines(source):
            try:
                item = parse_line(raw)
            except BadLine as exc:
                bad += 1
                print(f"{name}:{number}: {exc}", file=sys.stderr)
                if dead is not None:
                    raw_text = raw[:4096].decode("utf-8", "replace")
                    reject = {"file": name, "line": number, "reason": str(exc), "raw": raw_text}
                    dead.write(_encoder.encode(reject) + b"\n")
                continue
            text = f"{item.title}\n{item.text}" if item.title else item.text
            result = classifier.classify_text(str(item.id), text)
            out.write(_encoder.encode(contract_record(result)) + b"\n")
            count += 1
    finally:
        out.flush()
        if getattr(args, "stats", False):
            _print_stats(count, started)
        if source is not sys.stdin.buffer:
            source.close()
        if dead is not None:
            dead.close()
    if bad:
        print(f"{name}: {bad} bad line(s) rejected", file=sys.stderr)
    return 1 if bad else 0


def _print_stats(count: int, started: tuple[float, float]) -> None:
    cpu = time.process_time() - started[0]
    wall = time.perf_counter() - started[1]
    rate = count / cpu if cpu > 0 else 0.0
    print(f"classified {count} posts: {cpu:.3f} s CPU ({rate:,.0f} posts/s), {wall:.3f} s wall; "
          f"start-up {started[0]:.2f} s CPU not counted", file=sys.stderr)  # fmt: skip


def run_check_config(args: argparse.Namespace) -> int:
    """Everything `monitor run` reads from a city config at start: its sections, the policies
    built from them, and the escalation file it names."""
    from monitor.config import evidence_policy, incident_params, ladder_path

    try:
        cfg = load_config(args.file)
        incident_params(cfg)
        evidence_policy(cfg)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        print(f"{args.file}: {len(exc.issues)} error(s)", file=sys.stderr)
        return 1
    towns = sum(len(c.towns) for c in cfg.jurisdiction.counties)
    print(
        f"{args.file}: OK — {cfg.jurisdiction.name}, {len(cfg.jurisdiction.counties)} "
        f"county-level units, {towns} towns, {len(cfg.categories)} categories, "
        f"{len(cfg.departments)} departments, {len(cfg.official_accounts)} official accounts; "
        f"escalation file {ladder_path(cfg)}"
    )
    return 0


def run_route(args: argparse.Namespace) -> int:
    """Explain one decision: what fired, with what weight, and what followed from it."""
    classifier = _classifier(args)
    if classifier is None:
        return 2
    detection, c = classifier.explain(args.text)
    labels = classifier.labels
    result = contract(c)
    loc, duty = result["location"], result["responsible"]

    def name(key: str) -> str:
        return f"{labels.get(key, key)}({key})"

    print(f"类别: {name(c.category)}  事件: {'是' if c.is_incident else '否'}  "
          f"置信度: {c.confidence}")  # fmt: skip
    def fired(items: tuple[tuple[str, str, float], ...]) -> str:
        ranked = sorted(items, key=lambda x: (-x[2], x[0]))
        return "、".join(f"{t}→{name(k)} +{w:g}" for t, k, w in ranked) or "无"

    scores = sorted(detection.scores, key=lambda kv: (-kv[1], kv[0]))[:5]
    print("得分: " + ("；".join(f"{name(k)} {v:g}" for k, v in scores) or "无"))
    print("触发词: " + fired(detection.triggers))
    print("主题词: " + fired(detection.topic))
    if detection.context:
        print("非事件语境: " + "、".join(f"{t}（{k}）" for t, k in sorted(detection.context)))
    facts = {k: v for k, v in result["casualties"].items() if v not in (None, [])}
    counted = "计入事件证据" if detection.casualty_evidence else "未计入"
    print(f"伤亡证据: {facts or '无'}（{counted}）")
    place = "".join(p for p in (loc["city"], loc["county"], loc["town"]) if p) or "未识别"
    print(f"地点: {place}  辖区内: {loc['in_jurisdiction']}")
    print(f"分级: {result['grade']}  依据: {result['grade_basis']}")
    print(f"牵头: {duty['lead']}  配合/督导: {'、'.join(duty['co']) or '无'}")
    return 0
