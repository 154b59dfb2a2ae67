"""Users files: refused with the reason, the embedded admin token made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.web.auth import Role, Users, UsersError, ensure_local_admin, local_admin_token


def test_department_without_body_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {token: abcdefghijklmnopq, name: 某局, role: department}\n")
    with pytest.raises(UsersError, match="needs `body`"):
        Users.load(path)


def test_short_token_and_unknown_role_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - {token: short, name: a, role: duty}\n")
    with pytest.raises(UsersError, match="shorter than 16"):
        Users.load(path)
    path.write_text("users:\n  - {token: abcdefghijklmnopq, name: a, role: boss}\n")
    with pytest.raises(UsersError, match="role"):
        Users.load(path)


def test_local_admin_made_once_and_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_USERS_FILE", raising=False)
    monkeypatch.delenv("MONITOR_ADMIN_TOKEN", raising=False)
    token = ensure_local_admin(tmp_path)
    assert token and ensure_local_admin(tmp_path) is None  # not replaced on the next start
    assert local_admin_token(tmp_path) == token
    assert (tmp_path / "users.yaml").stat().st_mode & 0o077 == 0  # only the owner reads it
    user = Users.from_env(tmp_path).find(token)
    assert user is not None and user.role is Role.ADMIN
    assert Users.from_env(tmp_path).find(token + "x") is None


def test_admin_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_USERS_FILE", raising=False)
    monkeypatch.setenv("MONITOR_ADMIN_TOKEN", "env-admin-token-0123")
    user = Users.from_env(None).find("env-admin-token-0123")
    assert user is not None and user.role is Role.ADMIN
