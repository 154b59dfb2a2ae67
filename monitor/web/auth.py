"""Bearer tokens → users with a role (DESIGN §3: duty, department, leader, admin).

Users live in the store (monitor/store/users.py), made with `monitor users add NAME --role …`
(the token is printed once, only its hash is kept); every request looks its token up, so a
revoked or rotated token stops working at once. `MONITOR_ADMIN_TOKEN` adds one admin from the
environment, for a deployment's first login; it lasts as long as the process.

Who sees and does what: duty and admin read and answer everything; a department reads the
incidents it is responsible for and those duty staff shared with it, and answers only the
former; a leader reads everything and writes nothing.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Collection
from dataclasses import dataclass

from monitor.domain.permissions import UserRole, is_duty, may_act
from monitor.domain.permissions import writes as role_writes
from monitor.domain.state import IncidentState
from monitor.runtime.accounts import UsersError
from monitor.store import Store
from monitor.store.users import Accounts

ENV_ADMIN = "MONITOR_ADMIN_TOKEN"


@dataclass(frozen=True)
class User:
    name: str
    role: UserRole
    body: str | None = None

    @property
    def writes(self) -> bool:
        return role_writes(self.role)

    @property
    def reads_all(self) -> bool:
        return self.role is not UserRole.DEPARTMENT

    @property
    def duty(self) -> bool:
        """Duty staff's powers: merge, split, close, regrade, share (admins have them too)."""
        return is_duty(self.role)

    def may_act_on(self, state: IncidentState) -> bool:
        """Whether any action is open to this user on `state` (monitor.domain.permissions)."""
        return may_act(self.role, self.body, state)

    def may_read(self, state: IncidentState, shared_with: Collection[str]) -> bool:
        if self.role is not UserRole.DEPARTMENT:
            return True
        return self.body in state.responsible.bodies or self.body in shared_with


class Users:
    """Finds a token's user: the store's accounts, then the environment's admin."""

    def __init__(self, accounts: Accounts | None, env_admin: str | None = None) -> None:
        self.accounts = accounts
        self.env_admin = env_admin

    def find(self, token: str) -> User | None:
        if self.env_admin and hmac.compare_digest(self.env_admin.encode(), token.encode()):
            return User(name="admin", role=UserRole.ADMIN)
        if self.accounts is None:
            return None
        account = self.accounts.find(token)
        if account is None:
            return None
        return User(name=account.name, role=UserRole(account.role), body=account.body)

    @classmethod
    def of(cls, store: Store) -> Users:
        return cls(Accounts(store), os.environ.get(ENV_ADMIN) or None)


def check_new_user(name: str, role: str, body: str | None, bodies: Collection[str]) -> UserRole:
    """The role, or UsersError saying (in Chinese) what is wrong with the request."""
    if not name.strip() or len(name) > 120:
        raise UsersError("用户名不能为空，且不超过120个字符")
    try:
        parsed = UserRole(role)
    except ValueError:
        known = "、".join(r.value for r in UserRole)
        raise UsersError(f"未知角色 {role!r}，可选：{known}") from None
    if parsed is UserRole.DEPARTMENT:
        if not (body or "").strip():
            raise UsersError("责任单位账号须用 --body 指定所属单位")
        if body not in bodies:
            raise UsersError(f"未知单位 {body!r}：须为城市配置中的单位名称，例如 "
                             f"{'、'.join(sorted(bodies)[:4])}")  # fmt: skip
    elif body:
        raise UsersError(f"只有责任单位账号需要 --body（{parsed.value} 账号不属于某个单位）")
    return parsed
