"""Bearer tokens → users with a role (DESIGN §3: duty, department, leader, admin).

Users come from a YAML file (`MONITOR_USERS_FILE`, or `users.yaml` in the data dir):

    users:
      - {token: "…", name: 张三, role: duty}
      - {token: "…", name: 市应急局值班, role: department, body: 市应急管理局}

or from `MONITOR_ADMIN_TOKEN` (one admin). duty/admin may act on any incident, a department
only on incidents its body is responsible for, a leader only reads.
"""

from __future__ import annotations

import hmac
import os
import secrets
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from monitor.domain.state import IncidentState

USERS_FILE = "users.yaml"
ENV_FILE = "MONITOR_USERS_FILE"
ENV_ADMIN = "MONITOR_ADMIN_TOKEN"


class Role(StrEnum):
    DUTY = "duty"
    DEPARTMENT = "department"
    LEADER = "leader"
    ADMIN = "admin"


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    name: str
    role: Role
    body: str | None = None

    @model_validator(mode="after")
    def _department_has_body(self) -> User:
        if self.role is Role.DEPARTMENT and not (self.body or "").strip():
            raise ValueError(f"user {self.name!r}: a department user needs `body`")
        if len(self.token) < 16:
            raise ValueError(f"user {self.name!r}: token shorter than 16 characters")
        return self

    def may_act_on(self, state: IncidentState) -> bool:
        if self.role in (Role.DUTY, Role.ADMIN):
            return True
        return self.role is Role.DEPARTMENT and self.body in state.responsible.bodies


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[User]


class UsersError(ValueError):
    pass


class Users:
    def __init__(self, users: list[User]) -> None:
        self._users = list(users)

    def __len__(self) -> int:
        return len(self._users)

    def find(self, token: str) -> User | None:
        # constant-time per comparison, so a wrong token's timing does not reveal a prefix
        for u in self._users:
            if hmac.compare_digest(u.token.encode(), token.encode()):
                return u
        return None

    @classmethod
    def load(cls, path: Path) -> Users:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(UsersFile.model_validate(data).users)
        except (OSError, yaml.YAMLError) as exc:
            raise UsersError(f"{path}: cannot read users file: {exc}") from exc
        except ValidationError as exc:
            raise UsersError(f"{path}: invalid users file: {exc}") from exc

    @classmethod
    def from_env(cls, data_dir: Path | None = None) -> Users:
        """The users file named by the environment, else the data dir's, plus an env admin."""
        users: list[User] = []
        named = os.environ.get(ENV_FILE)
        path = Path(named) if named else (data_dir / USERS_FILE if data_dir else None)
        if path is not None and (named or path.exists()):
            users.extend(cls.load(path)._users)
        token = os.environ.get(ENV_ADMIN)
        if token:
            users.append(User(token=token, name="admin", role=Role.ADMIN))
        return cls(users)


def ensure_local_admin(data_dir: Path) -> str | None:
    """For the embedded default: a users file with one admin, created once. Returns its token
    when this call created it (to print), None when the file was already there."""
    path = data_dir / USERS_FILE
    if path.exists():
        return None
    token = secrets.token_urlsafe(24)
    doc = {"users": [{"token": token, "name": "本机管理员", "role": "admin"}]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return token


def local_admin_token(data_dir: Path) -> str | None:
    path = data_dir / USERS_FILE
    if not path.exists():
        return None
    admins = [u for u in Users.load(path)._users if u.role is Role.ADMIN]
    return admins[0].token if admins else None
