"""`monitor replay`: a history replayed in a sandbox, with a report; a what-if with `--rules`.

    monitor replay FILE --report DIR [--rules FILE] [--config FILE]
    monitor replay --data-dir DIR --from 2026-05-01 --to 2026-06-01 --report OUT

Writes DIR/incidents.json, DIR/report.html and DIR/notifications-dry-run.jsonl (what would
have been sent); with --rules also DIR/base-incidents.json and DIR/whatif.json, and prints the
differences. Exit 0; 1 when input lines were skipped or refused, or nothing was in range;
2 when the command cannot run (a bad config or rules file, no such file).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.config.loader import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay", help="replay history in a sandbox (event time, nothing sent) and report"
    )
    p.add_argument("file", nargs="?", help="history file (.jsonl or .csv) of posts and answers")
    p.add_argument("--report", required=True, metavar="DIR", help="write the report here")
    p.add_argument("--rules", default=None, help="what-if: an alternative city config (or the "
                   "sections that change) to replay under and compare with the base")  # fmt: skip
    p.add_argument("--config", default=None, help="base city config (default: Ziyang)")
    p.add_argument("--data-dir", default=None, help="replay this data dir's archive (read only)")
    p.add_argument("--db", default=None, help="the store URL instead of --data-dir's monitor.db")
    p.add_argument("--from", dest="since", default=None, help="archive: from this time (ISO)")
    p.add_argument("--to", dest="until", default=None, help="archive: before this time (ISO)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_replay)


def _time(text: str | None, what: str) -> datetime | None:
    from monitor.replay.history import BEIJING

    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: {what} {text!r} is not an ISO time (2026-05-01 or "
                         "2026-05-01T08:00+08:00)") from None  # fmt: skip
    return t if t.tzinfo is not None else t.replace(tzinfo=BEIJING)


def _configs(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """The base config and the what-if's, every error of each printed with its line."""
    from monitor.config import load_config
    from monitor.replay.rules import load_rules

    loaded: list[Any] = []
    for name, load in ((args.config or "config", lambda: load_config(args.config)),
                       (args.rules, lambda: load_rules(args.rules, args.config))):  # fmt: skip
        if name is None:
            loaded.append(None)
            continue
        try:
            loaded.append(load())
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            print(f"error: {name}: {len(exc.issues)} error(s); nothing was replayed",
                  file=sys.stderr)  # fmt: skip
            return None
    return loaded[0], loaded[1]


def _inputs(args: argparse.Namespace) -> tuple[list[Any], list[Any], str] | None:
    from monitor.replay.history import HistoryError, read_archive, read_history

    if args.file and (args.data_dir or args.db):
        print("error: give a history FILE or --data-dir/--db, not both", file=sys.stderr)
        return None
    if args.file:
        try:
            good, bad = read_history(args.file)
        except HistoryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return None
        return good, bad, args.file
    if not (args.data_dir or args.db):
        print("error: give a history FILE, or --data-dir (with --from/--to) for the archive",
              file=sys.stderr)  # fmt: skip
        return None
    since, until = _time(args.since, "--from"), _time(args.until, "--to")
    url = args.db
    if url is None:
        db = Path(args.data_dir).expanduser() / "monitor.db"
        if not db.is_file():
            print(f"error: {db}: no store to replay", file=sys.stderr)
            return None
        url = f"sqlite:///{db.resolve()}"
    good, bad = read_archive(url, since, until)
    span = f"{args.since or '…'} – {args.until or '…'}"
    return good, bad, f"{args.data_dir or args.db} 的存档（{span}）"


def cmd_replay(args: argparse.Namespace) -> int:
    import logging

    # a refused input is reported once, with its line, below; not also as the worker's warning
    logging.getLogger("streams.stages").setLevel(logging.ERROR)
    configs = _configs(args)  # a bad config or rules file stops here, before any input
    if configs is None:
        return 2
    base_cfg, alt_cfg = configs
    got = _inputs(args)
    if got is None:
        return 2
    inputs, bad, source = got
    for line in bad:
        print(line, file=sys.stderr)
    if not inputs:
        print(f"{source}: 没有可回放的帖子或回应（范围内为空） / nothing to replay in this range",
              file=sys.stderr)  # fmt: skip
        return 1
    out = Path(args.report)
    out.mkdir(parents=True, exist_ok=True)
    from monitor.replay.report import write_report
    from monitor.replay.run import replay_once

    dry = out / "notifications-dry-run.jsonl"
    base_name = args.config or "资阳市默认配置"
    if alt_cfg is None:
        result = replay_once(base_cfg, inputs, dry, quiet=args.quiet)
        base = None
        for stale in ("base-incidents.json", "whatif.json"):  # an earlier what-if's
            (out / stale).unlink(missing_ok=True)
    else:
        base = replay_once(base_cfg, inputs, None, quiet=args.quiet, label="原规则")
        result = replay_once(alt_cfg, inputs, dry, quiet=args.quiet, label="新规则",
                             anchors=anchors(base.incidents))  # fmt: skip
    refused = result.refused
    for line in refused:
        print(line, file=sys.stderr)
    whatif_text = None
    if base is not None:
        from monitor.replay.whatif import compare, render

        changes = compare(base.incidents, result.incidents)
        whatif_text = render(changes, base_name, str(args.rules))
        _dump(out / "base-incidents.json", base.incidents)
        _dump(out / "whatif.json", changes)
        print(whatif_text)
    _dump(out / "incidents.json", result.incidents)
    write_report(out / "report.html", result, source=source, bad=len(bad) + len(refused),
                 whatif=whatif_text)  # fmt: skip
    skipped = len(bad) + len(refused)
    print(f"{source}: {result.posts_in} 条帖子、{result.answers_in} 条回应已回放，"
          f"{len(result.incidents)} 个事件，{result.deliveries} 条通知（仅记录，未发送），"
          f"跳过 {skipped} 行；报告：{out / 'report.html'}", file=sys.stderr)  # fmt: skip
    return 1 if skipped else 0


def anchors(incidents: list[dict[str, Any]]) -> dict[str, str]:
    """Incident id → its first post, to find answers' incidents under other rules."""
    return {i["id"]: i["first_post"]["id"] for i in incidents if i.get("first_post")}


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
