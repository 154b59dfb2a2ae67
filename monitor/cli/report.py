"""`monitor report`: response compliance per department and county over a month or a range,
computed from the store's incident log (monitor/domain/compliance.py), as HTML, CSV or JSON.

    monitor report --month 2026-10 --format html --out 2026-10.html
    monitor report --from 2026-10-01 --to 2026-10-31 --body 市应急管理局 --format csv --out f.csv

Exit codes: 0 written; 1 the period holds no incident (nothing written); 2 bad options.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.domain.compliance import Period

FORMATS = ("html", "csv", "json")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="舆情回应情况报告：各部门、各县区按时率与超时明细")
    when = p.add_mutually_exclusive_group(required=True)
    when.add_argument("--month", help="a calendar month, YYYY-MM (Beijing time)")
    when.add_argument("--from", dest="start", help="first day (YYYY-MM-DD) or time")
    p.add_argument("--to", dest="end", help="last day, included (YYYY-MM-DD), or an end time")
    p.add_argument("--body", help="one responsible body, as named in the city config")
    p.add_argument("--format", default="html", help="html | csv | json (default html)")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--data-dir")
    p.add_argument("--db", help="database URL (default: the data dir's)")
    p.add_argument("--config", help="city config YAML (default: Ziyang), for the bodies")
    p.set_defaults(func=cmd_report)


def _fail(message: str, code: int = 2) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return code


def _db(args: argparse.Namespace) -> str | None:
    from monitor.runtime.datadir import ENV, Runtime, default_db_url

    if args.db:
        return str(args.db)
    import os

    directory = Path(args.data_dir or os.environ.get(ENV) or "monitor-data").expanduser()
    if not (directory / "monitor.db").exists():
        rt = Runtime.read(directory) if directory.is_dir() else None
        return rt.db if rt else None
    return default_db_url(directory.resolve())


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.reports.period import PeriodError, between, month, previous_month

    if args.format not in FORMATS:
        return _fail(f"--format {args.format!r} 不支持：可选 {' | '.join(FORMATS)}")
    if args.start is not None and args.end is None:
        return _fail("--from 需要同时给出 --to")
    if args.month is not None and args.end is not None:
        return _fail("--month 与 --to 不能同时使用")
    try:
        period = month(args.month) if args.month else between(args.start, args.end)
    except PeriodError as exc:
        return _fail(str(exc))
    previous = previous_month(period) if args.month else None
    if args.body is not None:
        refusal = _unknown_body(args.body, args.config)
        if refusal:
            return _fail(refusal)
    db = _db(args)
    if db is None:
        where = args.data_dir or "monitor-data"
        return _fail(f"数据目录 {where} 中没有监测数据库（monitor.db）：请用 --data-dir 指向 "
                     "monitor run 的数据目录，或用 --db 给出数据库地址")  # fmt: skip
    return _write(args, period, previous, db)


def _unknown_body(body: str, config: str | None) -> str | None:
    from monitor.config import ConfigError, load_config
    from monitor.web.meta import Meta

    try:
        bodies = Meta.of(load_config(config)).bodies
    except ConfigError as exc:
        return str(exc)
    if body in bodies:
        return None
    return f"--body {body!r} 不是城市配置中的责任单位；可选：{'、'.join(bodies)}"


def _write(args: argparse.Namespace, period: Period, previous: Period | None, db: str) -> int:
    from monitor.reports import load, render
    from monitor.reports.render import local
    from monitor.store import Store

    store = Store(db)
    try:
        report = load.report(store, period, datetime.now(UTC), args.body, previous)
    finally:
        store.close()
    ex = report.excluded
    if report.total.current.incidents == 0:
        span = f"{local(period.start)} 至 {local(period.end)}"
        who = f"{args.body}负责的" if args.body else ""
        also = f"（另有已并入他案 {ex.merged} 起、辖区外 {ex.out_of_area} 起不计入）" if (
            ex.merged or ex.out_of_area) else ""  # fmt: skip
        return _fail(f"统计期 {span}（北京时间）内没有{who}事件{also}，未生成报告", code=1)
    if args.format == "json":
        text = json.dumps(render.as_json(report), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "csv":
        text = render.as_csv(report)
    else:
        text = render.as_html(report)
    if args.out:
        out = Path(args.out)
        try:
            out.write_text(text, encoding="utf-8-sig" if args.format == "csv" else "utf-8")
        except OSError as exc:
            return _fail(f"无法写入 --out {args.out}：{exc.strerror or exc}")
        t = report.total.current
        print(f"已生成报告 {out}：事件 {t.incidents} 起，超时 {t.breaches} 次；"
              f"不计入：已并入他案 {ex.merged} 起，辖区外 {ex.out_of_area} 起")  # fmt: skip
    else:
        sys.stdout.write(text)
    return 0
