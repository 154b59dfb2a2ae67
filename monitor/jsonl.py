"""Reading JSONL input the same way on every command: numbered, blank lines skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped bytes) for each non-blank line; numbers count blank lines too,
    so an error message points at the line an editor shows."""
    for number, raw in enumerate(stream, start=1):
        stripped = raw.strip()
        if stripped:
            yield number, stripped
