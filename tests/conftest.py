"""Shared real parts: the reference data, one bundled Tansu broker per session, and the rule
that a missing program skips a test, except under CI=true, where a skip would hide a broken
environment, so it fails instead."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.runtime.broker import BrokerError, BundledBroker
from monitor.testing import pg_schema

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "MONITOR_TEST_PG",
    os.environ.get("YUQING_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A throw-away schema on the machine's PostgreSQL (monitor.testing.pg_schema); skips, or
    under CI=true fails, when the server is not there."""
    try:
        ctx = pg_schema(PG_URL, prefix)
        url = ctx.__enter__()
    except Exception as exc:
        skip_or_fail(f"PostgreSQL unreachable at {PG_URL}: {exc}")
        raise
    try:
        yield url
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real public data, read in place, never copied into the project."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def broker() -> Iterator[BundledBroker]:
    try:
        b = BundledBroker().start()
    except BrokerError as exc:
        skip_or_fail(f"bundled Tansu broker unavailable: {exc}")
        raise
    yield b
    b.stop()
