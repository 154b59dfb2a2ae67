"""Real parts for integration tests: one Tansu broker per session, unique topics per test,
and a throw-away PostgreSQL schema. Missing programs skip, except under CI=true, where a skip
would hide a broken environment, so they fail instead."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from monitor.runtime.broker import BrokerError, BundledBroker

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def broker() -> Iterator[BundledBroker]:
    try:
        b = BundledBroker().start()
    except BrokerError as exc:
        skip_or_fail(f"bundled Tansu broker unavailable: {exc}")
        raise
    yield b
    b.stop()


@pytest.fixture
def prefix() -> str:
    """A unique topic prefix, so tests sharing the broker never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema on the machine's PostgreSQL, dropped at the end of the session."""
    try:
        import sqlalchemy as sa
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        skip_or_fail(f"PostgreSQL unreachable at {PG_URL}: {exc}")
        raise
    schema = f"it_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()
