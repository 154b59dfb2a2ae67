"""`monitor users add|list|revoke|rotate`: dashboard and API accounts, kept in the store.

A new or rotated token is printed once and never again (the store keeps its hash). A
revocation or rotation takes effect at once against a running monitor: the web process looks
every token up in the store. Each change is audited with who ran it and from where.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.runtime.datadir import Runtime, data_dir, default_db_url

if TYPE_CHECKING:
    from monitor.store.users import Accounts


def register(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("users", help="dashboard accounts: add, list, revoke, rotate")
    verbs = u.add_subparsers(dest="verb", metavar="VERB", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir")
        p.add_argument("--db", help="database URL (default: the data dir's)")

    add = verbs.add_parser("add", help="make a user; prints its token once")
    add.add_argument("name")
    add.add_argument("--role", required=True, help="duty | department | leader | admin")
    add.add_argument("--body", help="a department user's body, as named in the city config")
    add.add_argument("--config", help="city config YAML (default: Ziyang), for the bodies")
    common(add)
    add.set_defaults(func=cmd_add)

    ls = verbs.add_parser("list", help="the users (never their tokens)")
    ls.add_argument("--json", action="store_true")
    common(ls)
    ls.set_defaults(func=cmd_list)

    for verb, func, what in (("revoke", "cmd_revoke", "remove a user; its token stops at once"),
                             ("rotate", "cmd_rotate", "a new token for a user; the old one "
                                                      "stops at once")):  # fmt: skip
        p = verbs.add_parser(verb, help=what)
        p.add_argument("name")
        common(p)
        p.set_defaults(func=globals()[func])


def _store(args: argparse.Namespace) -> Any:
    from monitor.store import Store

    if args.db:
        return Store(args.db)
    directory = data_dir(args.data_dir)
    rt = Runtime.read(directory)
    return Store(rt.db if rt else default_db_url(directory))


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def _source() -> str:
    return f"cli@{socket.gethostname()}"


def _fail(message: str) -> int:
    print(f"错误：{message}", file=sys.stderr)
    return 2


def _audit(store: Any, verb: str, now: datetime, **fields: str | None) -> None:
    """The audit row of `monitor users VERB`: what changed, who ran it and from where."""
    store.audit(_who(), f"users:{verb}", None, {**fields, "source": _source()}, now=now)


def _change_user(
    args: argparse.Namespace, verb: str, change: Callable[[Accounts, datetime], list[str]]
) -> int:
    """`change` made to the account `args.name` and audited; prints the lines it returns, or
    an error when there is no such user."""
    from monitor.store.users import Accounts, NoSuchUser

    store = _store(args)
    now = datetime.now(UTC)
    try:
        said = change(Accounts(store), now)
        _audit(store, verb, now, name=args.name)
    except NoSuchUser:
        return _fail(f"没有用户 {args.name}（monitor users list 列出全部用户）")
    finally:
        store.close()
    print("\n".join(said))
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from monitor.config import ConfigError
    from monitor.runtime.accounts import UsersError
    from monitor.store.users import Accounts, UserExists
    from monitor.web.auth import check_new_user
    from monitor.web.meta import Meta

    try:
        from monitor.config import load_config

        bodies = Meta.of(load_config(args.config)).bodies
        role = check_new_user(args.name, args.role, args.body, bodies)
    except (UsersError, ConfigError) as exc:
        return _fail(str(exc))
    store = _store(args)
    now = datetime.now(UTC)
    try:
        token = Accounts(store).add(args.name, role.value, args.body, now)
        _audit(store, "add", now, name=args.name, role=role.value, body=args.body)
    except UserExists:
        return _fail(f"用户 {args.name} 已存在（换令牌用 monitor users rotate {args.name}）")
    finally:
        store.close()
    print(f"已创建用户 {args.name}（{role.value}{' · ' + args.body if args.body else ''}）")
    print(f"令牌（只显示这一次，请妥善转交）：{token}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from monitor.store.users import Accounts

    store = _store(args)
    try:
        accounts = Accounts(store).list()
    finally:
        store.close()
    if args.json:
        print(json.dumps([a.__dict__ for a in accounts], ensure_ascii=False, indent=2))
        return 0
    if not accounts:
        print("暂无用户")
    for a in accounts:
        rotated = f"  令牌更换于 {a.rotated_at}" if a.rotated_at else ""
        print(f"{a.name}\t{a.role}\t{a.body or '—'}\t创建于 {a.created_at}{rotated}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    def revoke(accounts: Accounts, now: datetime) -> list[str]:
        accounts.revoke(args.name)
        return [f"已吊销用户 {args.name}：其令牌立即失效"]

    return _change_user(args, "revoke", revoke)


def cmd_rotate(args: argparse.Namespace) -> int:
    def rotate(accounts: Accounts, now: datetime) -> list[str]:
        token = accounts.rotate(args.name, now)
        return [f"已为 {args.name} 更换令牌，旧令牌立即失效",
                f"新令牌（只显示这一次，请妥善转交）：{token}"]  # fmt: skip

    return _change_user(args, "rotate", rotate)
