"""Which exceptions are storage faults told in words, and which stay bugs with a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.store.faults import Kind, StoreFault, fault_of


def test_a_bug_is_not_a_storage_fault() -> None:
    assert fault_of(ValueError("bad")) is None
    assert fault_of(KeyError("x")) is None
    assert fault_of(OSError(errno.ECONNRESET, "reset")) is None


@pytest.mark.parametrize(
    ("code", "kind"),
    [(errno.EROFS, Kind.READONLY), (errno.ENOSPC, Kind.FULL), (errno.EACCES, Kind.READONLY)],
)
def test_os_errors_by_errno(code: int, kind: Kind) -> None:
    fault = fault_of(OSError(code, "x", "/data/runtime.json"))
    assert fault is not None and fault.kind is kind and fault.where == "/data/runtime.json"
    assert "\n" not in fault.text() and fault.text().startswith("错误：")


def test_sqlite_error_wrapped_by_sqlalchemy_and_chained(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(sa.exc.OperationalError) as caught:
        engine.connect()
    fault = fault_of(caught.value, "here")
    assert fault is not None and fault.kind is Kind.CANNOT_OPEN
    try:
        raise RuntimeError("wrapper") from caught.value
    except RuntimeError as outer:
        chained = fault_of(outer)
    assert chained is not None and chained.kind is Kind.CANNOT_OPEN


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database" * 200)
    engine = sa.create_engine(f"sqlite:///{bad}")
    with pytest.raises(sa.exc.DatabaseError) as caught, engine.connect() as conn:
        conn.execute(sa.text("select * from sqlite_master"))
    fault = fault_of(caught.value)
    assert isinstance(fault, StoreFault) and fault.kind is Kind.CORRUPT
