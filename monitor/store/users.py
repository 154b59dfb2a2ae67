"""User accounts and incident shares, in the store.

A token is shown once, when it is made (`monitor users add` / `rotate`); the store keeps only
its SHA-256. Tokens are 256 random bits, so a fast hash is enough: there is nothing to guess,
unlike a password that needs a slow one. The web process looks the hash up on every request,
so a revocation or rotation takes effect at once, without a restart.

Roles and bodies are plain strings here; the web and CLI edges check them against the role
list and the city config.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from monitor.store import schema
from monitor.store.db import Store, iso

TOKEN_BYTES = 32


class UserExists(ValueError):
    pass


class NoSuchUser(LookupError):
    pass


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    body: str | None
    created_at: str
    rotated_at: str | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _account(row: sa.Row[tuple[object, ...]]) -> Account:
    m = row._mapping
    return Account(m["name"], m["role"], m["body"], m["created_at"], m["rotated_at"])


class Accounts:
    """The users table of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self, name: str, role: str, body: str | None, now: datetime, token: str | None = None
    ) -> str:
        """Create a user; returns its token (the only time it is seen). `token` only for
        importing an existing one (a users.yaml of an older version)."""
        token = token or new_token()
        t = schema.users
        with self.store.engine.begin() as conn:
            if conn.execute(sa.select(t.c.name).where(t.c.name == name)).first():
                raise UserExists(name)
            conn.execute(t.insert().values(
                name=name, role=role, body=body, token_hash=token_hash(token),
                created_at=iso(now),
            ))  # fmt: skip
        return token

    def rotate(self, name: str, now: datetime) -> str:
        token = new_token()
        t = schema.users
        with self.store.engine.begin() as conn:
            done = conn.execute(
                t.update().where(t.c.name == name)
                .values(token_hash=token_hash(token), rotated_at=iso(now))
            )  # fmt: skip
        if done.rowcount != 1:
            raise NoSuchUser(name)
        return token

    def revoke(self, name: str) -> None:
        t = schema.users
        with self.store.engine.begin() as conn:
            done = conn.execute(t.delete().where(t.c.name == name))
        if done.rowcount != 1:
            raise NoSuchUser(name)

    def list(self) -> list[Account]:
        t = schema.users
        with self.store.engine.connect() as conn:
            return [_account(r) for r in conn.execute(sa.select(t).order_by(t.c.created_at))]

    def find(self, token: str) -> Account | None:
        t = schema.users
        q = sa.select(t).where(t.c.token_hash == token_hash(token))
        with self.store.engine.connect() as conn:
            row = conn.execute(q).first()
        return _account(row) if row is not None else None

    def any_with_role(self, role: str) -> bool:
        t = schema.users
        with self.store.engine.connect() as conn:
            return conn.execute(sa.select(t.c.name).where(t.c.role == role)).first() is not None


class Shares:
    """Incidents duty staff shared with a body that is not responsible for them: that body's
    users may then read them (not answer them)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, incident_id: str, body: str, by: str, now: datetime) -> bool:
        """True if new; sharing twice is the same share."""
        stmt = self.store._insert(schema.shares).on_conflict_do_nothing(
            index_elements=["incident_id", "body"]
        )
        with self.store.engine.begin() as conn:
            done = conn.execute(stmt.values(incident_id=incident_id, body=body, by=by,
                                            at=iso(now)))  # fmt: skip
        return bool(done.rowcount)

    def remove(self, incident_id: str, body: str) -> bool:
        t = schema.shares
        with self.store.engine.begin() as conn:
            done = conn.execute(t.delete().where(t.c.incident_id == incident_id, t.c.body == body))
        return bool(done.rowcount)

    def bodies(self, incident_id: str) -> list[str]:
        t = schema.shares
        q = sa.select(t.c.body).where(t.c.incident_id == incident_id).order_by(t.c.at)
        with self.store.engine.connect() as conn:
            return [b for (b,) in conn.execute(q)]

    def incidents(self, body: str) -> set[str]:
        t = schema.shares
        with self.store.engine.connect() as conn:
            return {i for (i,) in conn.execute(sa.select(t.c.incident_id).where(t.c.body == body))}
