"""`monitor backup` and `monitor restore`: copies of the stores, and the ways back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "backup", help="a consistent copy of the stores (SQLite online backup, or pg_dump)"
    )
    b.add_argument("--data-dir")
    b.add_argument("--db", help="database URL (default: the running monitor's, or the data dir's)")
    b.add_argument("--out", help="backup directory (default: DATA_DIR/backups/<UTC time>)")
    b.set_defaults(func=cmd_backup)

    r = sub.add_parser(
        "restore", help="restore a backup, rebuild from a surviving archive, or start empty"
    )
    r.add_argument("--data-dir")
    r.add_argument("--db", help="database URL to restore into (default: the data dir's SQLite)")
    way = r.add_mutually_exclusive_group(required=True)
    way.add_argument(
        "--from", dest="source",
        help="a `monitor backup` directory (restored whole), or a .db file or database URL "
             "whose archive the new store is rebuilt from",
    )  # fmt: skip
    way.add_argument(
        "--empty", action="store_true",
        help="knowingly give up the stores that are missing or broken (files are renamed, "
             "never deleted); the next run starts them empty",
    )  # fmt: skip
    r.set_defaults(func=cmd_restore)


def _say(msg: str) -> None:
    print(msg, flush=True)


def cmd_backup(args: argparse.Namespace) -> int:
    from monitor.runtime.backup import BackupError, backup, store_urls
    from monitor.runtime.datadir import data_dir

    directory = data_dir(args.data_dir)
    try:
        backup(directory, store_urls(directory, args.db), _out(args.out), _say)
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from monitor.runtime.backup import BackupError, restore, store_urls
    from monitor.runtime.datadir import data_dir, default_db_url

    directory = data_dir(args.data_dir)
    # never the running monitor's (restore refuses while it runs): the data dir's own
    urls = store_urls(directory, args.db or default_db_url(directory))
    try:
        restore(directory, urls, args.source, args.empty, _say)
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _out(given: str | None) -> Path | None:
    return Path(given).expanduser().resolve() if given else None
