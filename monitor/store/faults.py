"""Storage faults told to the operator: what happened in Chinese, the English detail after it,
and the way out. A read-only or full disk is one line; a missing or corrupt store, which the
operator must act on, adds the numbered ways out."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from enum import Enum


# The Chinese for each kind; the English detail comes from the exception.
class Kind(Enum):
    READONLY = "数据目录或数据库只读，无法写入"
    FULL = "磁盘已满，无法写入"
    CORRUPT = "数据库文件已损坏"
    MISSING = "数据库不见了"
    REPLACED = "数据库不是该数据目录原来的那一个"
    UNREACHABLE = "无法连接数据库"
    CANNOT_OPEN = "无法打开数据库文件（目录不存在、不可写或无权限）"
    IO = "读写磁盘出错"


class StoreFault(RuntimeError):
    """A store or data directory the monitor cannot use. `str()` is what the operator reads."""

    exit_code = 3

    def __init__(
        self, kind: Kind, where: str, detail: str, way_out: Sequence[str] = (), note: str = ""
    ) -> None:
        self.kind, self.where, self.detail = kind, where, detail
        self.way_out, self.note = tuple(way_out), note
        super().__init__(kind.value)

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        head = f"错误：{self.kind.value}：{self.where}（{self.detail}）"
        if not self.way_out and not self.note:
            return head
        lines = [head]
        if self.note:
            lines.append(self.note)
        if self.way_out:
            lines.append("出路：")
            lines += [f"  {i}. {w}" for i, w in enumerate(self.way_out, 1)]
        return "\n".join(lines)


_SQLITE_KINDS = {
    "SQLITE_READONLY": Kind.READONLY,
    "SQLITE_FULL": Kind.FULL,
    "SQLITE_CORRUPT": Kind.CORRUPT,
    "SQLITE_NOTADB": Kind.CORRUPT,
    "SQLITE_CANTOPEN": Kind.CANNOT_OPEN,
    "SQLITE_IOERR": Kind.IO,
    "SQLITE_PERM": Kind.READONLY,
}
_ERRNO_KINDS = {
    errno.EROFS: Kind.READONLY,
    errno.EACCES: Kind.READONLY,
    errno.EPERM: Kind.READONLY,
    errno.ENOSPC: Kind.FULL,
    errno.EDQUOT: Kind.FULL,
    errno.EFBIG: Kind.FULL,
    errno.EIO: Kind.IO,
}
# PostgreSQL says these in words (psycopg carries no errno for them)
_PG_WORDS = (
    ("No space left on device", Kind.FULL),
    ("could not extend file", Kind.FULL),
    ("read-only transaction", Kind.READONLY),
    ("Connection refused", Kind.UNREACHABLE),
    ("could not connect", Kind.UNREACHABLE),
    ("connection failed", Kind.UNREACHABLE),
)


def fault_of(exc: BaseException, where: str = "") -> StoreFault | None:
    """The StoreFault an exception (or what caused it) stands for, or None if it is not a
    storage fault: a bug, which must keep its traceback."""
    seen = 0
    cause: BaseException | None = exc
    while cause is not None and seen < 5:
        fault = _fault(cause, where)
        if fault is not None:
            return fault
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def _fault(exc: BaseException, where: str) -> StoreFault | None:
    if isinstance(exc, StoreFault):
        return exc
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    detail = f"{type(orig).__name__}: {orig}".strip()
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        base = name if name in _SQLITE_KINDS else name.rsplit("_", 1)[0]
        kind = _SQLITE_KINDS.get(name) or _SQLITE_KINDS.get(base)
        if kind is not None:
            return StoreFault(kind, where or "数据库", detail)
    if isinstance(orig, OSError) and orig.errno in _ERRNO_KINDS:
        place = str(orig.filename) if orig.filename else where
        return StoreFault(_ERRNO_KINDS[orig.errno], place, detail)
    if type(orig).__module__.startswith("psycopg"):
        text = str(orig)
        for words, kind in _PG_WORDS:
            if words in text:
                return StoreFault(kind, where or "PostgreSQL", detail.splitlines()[0])
    return None
