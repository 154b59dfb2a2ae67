"""Users in the store: `monitor users` makes, lists, rotates and revokes them (tokens shown once,
kept hashed); a running API sees a revocation at once; who may read and write what."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from monitor.domain.permissions import UserRole
from monitor.runtime.accounts import (
    LOCAL_ADMIN,
    UsersError,
    ensure_local_admin,
    import_legacy_users,
)
from monitor.store import Store
from monitor.store.users import Accounts
from monitor.web.auth import Users, check_new_user
from monitor.web.meta import Meta
from tests.web.conftest import World, auth


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def token_in(out: str) -> str:
    found = re.search(r"令牌[^：]*：(\S+)", out)
    assert found, out
    return found.group(1)


def test_users_cli_add_list_rotate_revoke(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    added = monitor("users", "add", "应急局值班", "--role", "department", "--body", "市应急管理局",
                    "--db", db)  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = token_in(added.stdout)
    assert len(token) >= 40
    store = Store(db)
    users = Users(Accounts(store))
    user = users.find(token)
    assert user is not None and user.role is UserRole.DEPARTMENT and user.body == "市应急管理局"
    raw = sqlite3.connect(tmp_path / "monitor.db").iterdump()
    assert not any(token in line for line in raw), "the token itself is stored"

    listing = monitor("users", "list", "--db", db)
    assert "应急局值班" in listing.stdout and token not in listing.stdout

    rotated = monitor("users", "rotate", "应急局值班", "--db", db)
    assert rotated.returncode == 0, rotated.stderr
    new = token_in(rotated.stdout)
    assert users.find(token) is None and users.find(new) is not None

    assert monitor("users", "revoke", "应急局值班", "--db", db).returncode == 0
    assert users.find(new) is None
    again = monitor("users", "revoke", "应急局值班", "--db", db)
    assert again.returncode == 2 and "没有用户" in again.stderr
    whats = [r["what"] for r in store.audit_rows()]
    assert whats == ["users:add", "users:rotate", "users:revoke"]
    assert all(r["who"].startswith("cli:") for r in store.audit_rows())
    store.close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--role", "boss"], "未知角色"),
        (["--role", "department"], "--body"),
        (["--role", "department", "--body", "市应急局"], "未知单位"),
        (["--role", "leader", "--body", "市应急管理局"], "只有责任单位"),
    ],
)
def test_users_cli_refuses_bad_accounts(tmp_path: Path, args: list[str], words: str) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    out = monitor("users", "add", "某人", *args, "--db", db)
    assert out.returncode == 2 and words in out.stderr, out.stderr
    assert "令牌" not in out.stdout


def test_a_name_is_made_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    assert monitor("users", "add", "甲", "--role", "duty", "--db", db).returncode == 0
    twice = monitor("users", "add", "甲", "--role", "leader", "--db", db)
    assert twice.returncode == 2 and "已存在" in twice.stderr


def test_check_new_user_lists_what_is_allowed() -> None:
    bodies = Meta.default().bodies
    assert "雁江区人民政府" in bodies and "市应急管理局" in bodies
    assert check_new_user("甲", "duty", None, bodies) is UserRole.DUTY
    with pytest.raises(UsersError, match="duty"):
        check_new_user("甲", "chief", None, bodies)


def test_local_admin_made_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    now = datetime.now(UTC)
    token = ensure_local_admin(store, now)
    assert token and ensure_local_admin(store, now) is None  # not replaced on the next start
    user = Users(Accounts(store)).find(token)
    assert user is not None and user.role is UserRole.ADMIN and user.name == LOCAL_ADMIN
    assert Users(Accounts(store)).find(token + "x") is None
    store.close()


def test_a_users_yaml_of_an_older_version_is_imported_hashed_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(yaml.safe_dump({"users": [
        {"token": "old-duty-token-0123456789", "name": "老值班员", "role": "duty"},
        {"token": "old-dept-token-0123456789", "name": "老联络员", "role": "department",
         "body": "市应急管理局"},
    ]}, allow_unicode=True), "utf-8")  # fmt: skip
    store = Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    assert import_legacy_users(store, tmp_path, datetime.now(UTC)) == 2
    assert not path.exists()
    user = Users(Accounts(store)).find("old-dept-token-0123456789")
    assert user is not None and user.body == "市应急管理局"
    store.close()


def test_admin_token_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_ADMIN_TOKEN", "env-admin-token-0123")
    store = Store(f"sqlite:///{tmp_path / 'monitor.db'}")
    user = Users.of(store).find("env-admin-token-0123")
    assert user is not None and user.role is UserRole.ADMIN
    store.close()


# --- security: who reads and writes what -----------------------------------------------------


async def test_a_department_cannot_read_or_answer_another_departments_incident(
    client: httpx.AsyncClient, world: World
) -> None:
    school = world.school.id  # 市教育和体育局 / 安岳县 are responsible; not 市应急管理局
    assert "市应急管理局" not in world.school.responsible.bodies
    before = world.snapshot()
    for path in (f"/api/incidents/{school}", f"/api/incidents/{school}/posts",
                 f"/api/incidents/{school}/candidates"):  # fmt: skip
        resp = await client.get(path, headers=auth("emergency"))
        assert resp.status_code == 403 and "无权" in resp.json()["error"], path
    resp = await client.post(f"/api/incidents/{school}/actions", headers=auth("emergency"),
                             json={"kind": "acknowledge"})  # fmt: skip
    assert resp.status_code == 403
    assert world.snapshot() == before
    listed = (await client.get("/api/incidents", headers=auth("emergency"))).json()
    assert [r["id"] for r in listed] == [world.blast.id]
    totals = (await client.get("/api/totals", headers=auth("emergency"))).json()
    assert totals["open"] == 1


async def test_shared_with_a_department_it_may_read_but_not_answer(
    client: httpx.AsyncClient, world: World
) -> None:
    school = world.school.id
    resp = await client.post(f"/api/incidents/{school}/shares", headers=auth("emergency"),
                             json={"body": "市应急管理局"})  # fmt: skip
    assert resp.status_code == 403  # only duty staff share
    resp = await client.post(f"/api/incidents/{school}/shares", headers=auth("duty"),
                             json={"body": "市应急管理局"})  # fmt: skip
    assert resp.status_code == 200 and resp.json()["shared_with"] == ["市应急管理局"]
    detail = await client.get(f"/api/incidents/{school}", headers=auth("emergency"))
    assert detail.status_code == 200 and detail.json()["can_act"] is False
    before = world.snapshot()
    act = await client.post(f"/api/incidents/{school}/actions", headers=auth("emergency"),
                            json={"kind": "acknowledge"})  # fmt: skip
    assert act.status_code == 403 and world.snapshot() == before
    [share] = [r for r in world.store.audit_rows() if r["what"] == "share"]
    assert share["who"] == "值班员甲" and '"source"' in share["detail"]
    gone = await client.delete(f"/api/incidents/{school}/shares/市应急管理局",
                               headers=auth("duty"))  # fmt: skip
    assert gone.status_code == 200
    again = await client.get(f"/api/incidents/{school}", headers=auth("emergency"))
    assert again.status_code == 403


async def test_a_revoked_token_is_refused_at_once(
    client: httpx.AsyncClient, world: World
) -> None:
    assert (await client.get("/api/incidents", headers=auth("duty"))).status_code == 200
    out = monitor("users", "revoke", "值班员甲", "--db", world.store.url)  # another process
    assert out.returncode == 0, out.stderr
    resp = await client.get("/api/incidents", headers=auth("duty"))
    assert resp.status_code == 401 and "吊销" in resp.json()["error"]


async def test_a_leader_reads_everything_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    listed = (await client.get("/api/incidents", headers=auth("leader"))).json()
    assert {r["id"] for r in listed} == {world.blast.id, world.school.id}
    before = world.snapshot()
    blast = world.blast.id
    writes = [
        ("post", f"/api/incidents/{blast}/actions", {"kind": "acknowledge"}),
        ("post", f"/api/incidents/{blast}/actions",
         {"kind": "release", "url": "https://www.ziyang.gov.cn/1.html"}),
        ("post", f"/api/incidents/{blast}/shares", {"body": "市教育和体育局"}),
        ("post", f"/api/incidents/{blast}/candidates/evidence:x/confirm", None),
    ]  # fmt: skip
    for method, path, body in writes:
        resp = await client.request(method, path, json=body, headers=auth("leader"))
        assert resp.status_code == 403, (path, resp.text)
    assert world.snapshot() == before


@pytest.mark.parametrize("kind", ["close", "regrade", "merge", "split"])
async def test_duty_only_kinds_are_refused_to_a_department(
    client: httpx.AsyncClient, world: World, kind: str
) -> None:
    body = {"kind": kind, "reason": "测试", "grade": "I", "target": world.school.id,
            "post_ids": ["p-blast"]}  # fmt: skip
    before = world.snapshot()
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", json=body,
                             headers=auth("emergency"))  # fmt: skip
    assert resp.status_code == 403 and "仅限值班人员" in resp.json()["error"]
    assert world.snapshot() == before


async def test_every_write_is_audited_with_user_time_and_address(
    client: httpx.AsyncClient, world: World
) -> None:
    resp = await client.post(f"/api/incidents/{world.blast.id}/actions", headers=auth("emergency"),
                             json={"kind": "acknowledge"})  # fmt: skip
    assert resp.status_code == 200
    [row] = world.store.audit_rows()
    assert row["who"] == "应急局联络员" and row["at"] and row["what"] == "act:acknowledge"
    assert '"source": "127.0.0.1"' in row["detail"]
