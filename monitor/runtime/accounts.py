"""Accounts a start makes or carries over: the embedded default's local admin, and users from
a `users.yaml` of before users lived in the store. `monitor run` calls these before it starts
the web process; they live here, below the web layer, so the runtime never imports the web."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml

from monitor.domain.permissions import UserRole
from monitor.store import Store
from monitor.store.users import Accounts, UserExists

LOCAL_ADMIN = "本机管理员"
LEGACY_USERS_FILE = "users.yaml"


class UsersError(ValueError):
    pass


def ensure_local_admin(store: Store, now: datetime) -> str | None:
    """For the embedded default: one admin, made on the first start. Returns its token when
    this call made it (to print once), None when there was an admin already."""
    accounts = Accounts(store)
    if accounts.any_with_role(UserRole.ADMIN.value):
        return None
    try:
        return accounts.add(LOCAL_ADMIN, UserRole.ADMIN.value, None, now)
    except UserExists:
        return None


def import_legacy_users(store: Store, directory: Path, now: datetime) -> int:
    """A `users.yaml` from before users lived in the store: its users are added (tokens
    hashed, so they keep working) and the file is removed, so no token stays in plain text."""
    path = directory / LEGACY_USERS_FILE
    if not path.exists():
        return 0
    try:
        doc = yaml.safe_load(path.read_text("utf-8")) or {}
        rows = list(doc.get("users") or [])
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise UsersError(f"{path}: 无法读取旧用户文件：{exc}") from exc
    accounts = Accounts(store)
    added = 0
    for row in rows:
        try:
            role = UserRole(row["role"]).value
            accounts.add(str(row["name"]), role, row.get("body"), now, token=str(row["token"]))
            added += 1
        except UserExists:
            continue
        except (KeyError, ValueError, TypeError) as exc:
            raise UsersError(f"{path}: 用户 {row!r} 无效：{exc}") from exc
    path.unlink()
    return added
