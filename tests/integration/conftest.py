"""Real parts for integration tests: one Tansu broker per session, unique topics per test,
and a throw-away PostgreSQL schema. Missing programs skip, except under CI=true, where a skip
would hide a broken environment, so they fail instead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import IN_CI, PG_URL, postgres_schema, skip_or_fail

__all__ = ["IN_CI", "PG_URL", "skip_or_fail"]  # the session broker is tests/conftest.py's


@pytest.fixture
def prefix() -> str:
    """A unique topic prefix, so tests sharing the broker never see each other's records."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh schema on the machine's PostgreSQL, dropped at the end of the session."""
    with postgres_schema("it") as url:
        yield url
